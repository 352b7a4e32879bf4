import Foundation
import StageKit

/// What `mscn sweep --dry-run` says: for each run, how many stages it would run and how many of
/// those an earlier run of the sweep already counts (their projected keys match, so the sweep
/// computes them once), then about how long the whole sweep takes with its job slots. A stage's
/// time is the cache's record of the last run of a stage of that name, as in `RunEstimate`.
public struct SweepForecast {
    private let jobs: Int
    /// Projected key → the stage's recorded seconds, if any.
    private var distinct: [String: Double?] = [:]
    private var runs = 0
    private var stageRuns = 0
    private var longestChain = 0.0

    public init(jobs: Int) { self.jobs = max(1, jobs) }

    /// Plans `runner`'s run and says what it adds, in one line.
    public mutating func add(_ label: String, runner: Runner) throws -> String {
        let stale = try runner.projectedStale()
        runs += 1
        stageRuns += stale.count
        // The run's own estimate gives each stage's recorded time and the run's longest chain.
        let order = stale.compactMap { runner.plan.index[$0.stage] }
        let estimate = RunEstimate(plan: runner.plan, order: order, jobs: jobs) { runner.store.latestEntry(forStage: $0)?.seconds }
        var shared = 0
        for (name, key) in stale {
            if distinct[key] != nil { shared += 1; continue }
            distinct[key] = .some(runner.plan.index[name].flatMap { estimate.guess(runner.plan.stages[$0]) })
        }
        longestChain = max(longestChain, estimate.left(settled: [], running: [:], now: Date()).chain)
        let total = (try? runner.plan.needed().count) ?? stale.count
        if stale.isEmpty { return "\(label): up to date (\(total) stages)" }
        return "\(label): \(stale.count) of \(total) stages would run" + (shared > 0 ? ", \(shared) of them counted in an earlier run" : "")
    }

    /// Distinct stages, the sum of their recorded times, the sweep's time over the job slots
    /// (the longer of that sum over the slots and the longest chain of one run), and how many
    /// distinct stages have no recorded time.
    var totals: (stages: Int, work: Double, seconds: Double, unknown: Int) {
        let times = distinct.values.compactMap { $0 }
        let work = times.reduce(0, +)
        return (distinct.count, work, max(work / Double(jobs), longestChain), distinct.count - times.count)
    }

    /// The whole sweep: stages in all, distinct ones, and the time their records add up to over the job slots.
    public var summary: String {
        let t = totals
        var s = "sweep: \(runs) runs would run \(stageRuns) stages, \(t.stages) distinct (the rest are shared between runs)"
        guard t.unknown < t.stages else { return s + (t.stages == 0 ? "" : "; no time estimate (none of them has run with this cache)") }
        let clock = StageKit.Progress.clock
        s += "; their last recorded times add to \(clock(t.work)): \(t.unknown > 0 ? "at least" : "about") \(clock(t.seconds)) with -j \(jobs)"
        if t.unknown > 0 { s += " (\(t.unknown) of them never ran with this cache)" }
        return s
    }
}
