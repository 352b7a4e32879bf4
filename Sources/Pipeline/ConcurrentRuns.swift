import Foundation

/// Several runners at once (the grid points of a sweep), each on its own thread, sharing one
/// pool of job slots. Two runners that need the same stage never both run it: the per-key lock
/// in the cache makes the second wait, and it then finds the first one's result in the index.
public enum ConcurrentRuns {
    /// Runs every runner with `options` (whose `slots` bound the stages in flight across all of
    /// them; a pool of `options.jobs` slots is made when none is given); results in input order.
    public static func run(_ runners: [Runner], options: RunOptions) -> [Result<RunSummary, Error>] {
        var withSlots = options
        if withSlots.slots == nil { withSlots.slots = JobSlots(options.jobs) }
        let shared = withSlots
        let results = ResultBox(count: runners.count)
        let group = DispatchGroup()
        for (i, runner) in runners.enumerated() {
            group.enter()
            // Threads, not a dispatch queue: each blocks for the whole run.
            Thread {
                results.set(i, Result { try runner.run(shared) })
                group.leave()
            }.start()
        }
        group.wait()
        return results.all
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Result<RunSummary, Error>?]
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<RunSummary, Error>) {
        lock.lock()
        items[i] = r
        lock.unlock()
    }
    var all: [Result<RunSummary, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return items.map { $0 ?? .failure(PipelineError("the run did not report")) }
    }
}
