import Foundation
import StageKit

/// How far a run has come and about how long the rest will take, said after each stage it runs.
///
/// A stage's duration is guessed from the cache's record of the last time a stage of that name
/// ran (in any pipeline, under any key), else from the stages of its family this run has
/// finished (a foreach's earlier rounds). The time left is the longer of the unsettled stages'
/// longest dependency chain and their total work spread over the job slots. Stages with no guess
/// count as nothing, and the estimate is then a lower bound.
struct RunEstimate {
    struct Left: Equatable {
        var seconds: Double
        /// How many unsettled stages had no guess.
        var untimed = 0
        /// The longest dependency chain among them alone (without the slots' share of the work).
        var chain = 0.0
        /// Some unsettled stage had no guess, so `seconds` is a lower bound.
        var lowerBound: Bool { untimed > 0 }
    }

    private let stages: [StageInstance]   // the run's stages, in dependency order
    private let jobs: Int
    private let recorded: [String: Double]
    private var familyTimes: [String: [Double]] = [:]

    /// `recorded(name)`: the seconds a stage of that name took when it last ran, if known.
    init(plan: Plan, order: [Int], jobs: Int, recorded: (String) -> Double?) {
        stages = order.map { plan.stages[$0] }
        self.jobs = max(1, jobs)
        var known: [String: Double] = [:]
        for s in stages { if let t = recorded(s.name) { known[s.name] = t } }
        self.recorded = known
    }

    mutating func finished(_ stage: StageInstance, seconds: Double) {
        familyTimes[stage.family, default: []].append(seconds)
    }

    func guess(_ stage: StageInstance) -> Double? {
        if let t = recorded[stage.name] { return t }
        guard let times = familyTimes[stage.family], !times.isEmpty else { return nil }
        return times.reduce(0, +) / Double(times.count)
    }

    /// Time left when the stages in `settled` are done (or failed, or skipped) and those in
    /// `running` started at their dates.
    func left(settled: Set<String>, running: [String: Date], now: Date) -> Left {
        var chainEnd: [String: Double] = [:]
        var work = 0.0, longest = 0.0, untimed = 0
        for s in stages where !settled.contains(s.name) {
            let guessed = guess(s)
            if guessed == nil { untimed += 1 }
            var own = guessed ?? 0
            if let began = running[s.name] { own = max(0, own - now.timeIntervalSince(began)) }
            let start = s.dependencies.compactMap { chainEnd[$0] }.max() ?? 0
            chainEnd[s.name] = start + own
            longest = max(longest, start + own)
            work += own
        }
        return Left(seconds: max(longest, work / Double(jobs)), untimed: untimed, chain: longest)
    }

    /// ` · 17/73 stages, 4m05s, about 21m left` (`at least ... (N stages not timed yet)` when
    /// some stage had no guess).
    static func progress(settled: Int, total: Int, elapsed: Double, left: Left?) -> String {
        let clock = StageKit.Progress.clock
        var s = " · \(settled)/\(total) stages, \(clock(elapsed))"
        if let left, settled < total {
            s += ", \(left.lowerBound ? "at least" : "about") \(clock(left.seconds)) left"
            if left.untimed > 0 { s += " (\(left.untimed) stage\(left.untimed == 1 ? "" : "s") not timed yet)" }
        }
        return s
    }
}

extension Runner {
    /// About how long running the stages of `assessed` that are not fresh takes with `jobs` job
    /// slots (`status`, `run --dry-run`): each stage's time is the cache's record of the last run
    /// of a stage of that name, so another data set's or model size's record misleads it, and
    /// early cutoff at run time can only shorten it. Nil when none of them has a record.
    public func timeToRun(_ assessed: [Assessment], jobs: Int) -> (seconds: Double, untimed: Int)? {
        let order = assessed.compactMap { plan.index[$0.stage] }
        let settled = Set(assessed.filter { $0.state == .fresh }.map(\.stage))
        var anyRecord = false
        let estimate = RunEstimate(plan: plan, order: order, jobs: jobs) { name in
            guard !settled.contains(name), let t = self.store.latestEntry(forStage: name)?.seconds else { return nil }
            anyRecord = true
            return t
        }
        guard anyRecord else { return nil }
        let left = estimate.left(settled: settled, running: [:], now: Date())
        return (left.seconds, left.untimed)
    }

    /// `; about 21m30s with -j 2 (each stage as long as its last run in this cache)`, or the
    /// reason there is no estimate.
    public static func timeToRunText(_ guess: (seconds: Double, untimed: Int)?, jobs: Int) -> String {
        guard let guess else { return "; no time estimate (none of them has run with this cache)" }
        return "; \(guess.untimed > 0 ? "at least" : "about") \(StageKit.Progress.clock(guess.seconds)) with -j \(jobs)"
            + " (each stage as long as its last run in this cache\(guess.untimed > 0 ? "; \(guess.untimed) never ran" : ""))"
    }
}
