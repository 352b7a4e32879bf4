import Foundation

/// Whether a stage would run, and why: the basis of `status`, `--dry-run` and `explain`.
public struct Assessment: Sendable {
    public enum State: Sendable { case fresh, stale, error }
    public var stage: String
    public var state: State
    /// For a stale stage: what differs from the stage's most recent cached record.
    public var reasons: [String]
    /// The stage key, when the inputs are settled enough to know it.
    public var key: String? = nil
}

extension Runner {
    /// Every needed stage in run order. A stage whose inputs are stale is stale too (its inputs
    /// will be rebuilt; early cutoff may still spare it at run time).
    public func assess(until: String? = nil) throws -> [Assessment] {
        defer { store.statCache.save() }
        var entries: [String: IndexEntry] = [:]
        var result: [Assessment] = []
        var notFresh: Set<String> = []
        for i in try plan.needed(until: until) {
            let stage = plan.stages[i]
            let upstream = stage.dependencies.filter { notFresh.contains($0) }
            if !upstream.isEmpty {
                notFresh.insert(stage.name)
                var reasons = ["reads outputs of stale \(upstream.joined(separator: ", "))"]
                // What else differs is known already (parameters, binary, other inputs).
                if let p = try? keyer.prepare(stage, inputs: entries, allowPending: true),
                   let last = store.latestEntry(forStage: stage.name) {
                    reasons += p.record.differences(from: last.record).filter { !$0.hasSuffix(StageKeyer.pending) }
                }
                result.append(Assessment(stage: stage.name, state: .stale, reasons: reasons))
                continue
            }
            do {
                let p = try keyer.prepare(stage, inputs: entries)
                if let e = store.validEntry(forKey: p.key) {
                    entries[stage.name] = e
                    result.append(Assessment(stage: stage.name, state: .fresh, reasons: []))
                } else {
                    notFresh.insert(stage.name)
                    result.append(Assessment(stage: stage.name, state: .stale, reasons: why(p), key: p.key))
                }
            } catch {
                notFresh.insert(stage.name)
                result.append(Assessment(stage: stage.name, state: .error, reasons: ["\(error)"]))
            }
        }
        return result
    }

    private func why(_ p: PreparedStage) -> [String] {
        if store.entry(forKey: p.key) != nil { return ["cached result incomplete (objects missing)"] }
        guard let last = store.latestEntry(forStage: p.stage.name) else { return ["never run"] }
        let diff = p.record.differences(from: last.record)
        return diff.isEmpty ? ["no cached result for this key"] : diff
    }

    func dryRun(until: String?, jobs: Int) throws -> RunSummary {
        var summary = RunSummary()
        let assessed = try assess(until: until)
        for a in assessed {
            switch a.state {
            case .fresh: summary.cached.append(a.stage)
            case .stale, .error:
                summary.wouldRun.append(a.stage)
                say("  would run \(a.stage): \(a.reasons.joined(separator: "; "))")
            }
        }
        say(summary.wouldRun.isEmpty ? "everything is up to date (\(summary.cached.count) stages cached)"
            : "\(summary.wouldRun.count) would run, \(summary.cached.count) cached"
              + Self.timeToRunText(timeToRun(assessed, jobs: jobs), jobs: jobs))
        return summary
    }

    /// A field-by-field account of why `stageName` would run (or that it would not).
    public func explain(_ stageName: String) throws -> String {
        guard plan.index[stageName] != nil else {
            let near = plan.stages.map(\.name).filter { $0.hasPrefix(stageName) || stageName.hasPrefix($0) }.prefix(5)
            throw PipelineError("no stage named '\(stageName)'\(near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)")")
        }
        let all = try assess(until: stageName)
        guard let mine = all.last, mine.stage == stageName else { throw PipelineError("cannot assess '\(stageName)'") }
        var lines: [String] = []
        switch mine.state {
        case .fresh:
            let when = store.latestEntry(forStage: stageName).map { " (latest record from \($0.finished))" } ?? ""
            lines.append("\(stageName) is up to date: its cached result matches the current key\(when)")
        case .error:
            lines.append("\(stageName) cannot be keyed: \(mine.reasons.joined(separator: "; "))")
        case .stale:
            lines.append("\(stageName) is stale:")
            lines += mine.reasons.map { "  \($0)" }
            let upstream = all.dropLast().filter { $0.state != .fresh }
            if !upstream.isEmpty {
                lines.append("stale upstream stages:")
                lines += upstream.map { "  \($0.stage): \($0.reasons.joined(separator: "; "))" }
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Runner {
    /// The stages a run would run, in run order, each with a key that stands for what it would
    /// compute even where its inputs are not built yet: an output of a stage that would run is
    /// named by that stage's projected key. Stages of two runs (a sweep's) that would compute the
    /// same thing get the same projected key, so the shared ones can be counted once; early
    /// cutoff at run time can only merge more.
    public func projectedStale(until: String? = nil) throws -> [(stage: String, key: String)] {
        defer { store.statCache.save() }
        var entries: [String: IndexEntry] = [:]
        var projected: [String: String] = [:]
        var result: [(stage: String, key: String)] = []
        for i in try plan.needed(until: until) {
            let stage = plan.stages[i]
            let pendingInputs = stage.dependencies.contains { projected[$0] != nil }
            var p = try keyer.prepare(stage, inputs: entries, allowPending: pendingInputs)
            if !pendingInputs, let e = store.validEntry(forKey: p.key) {
                entries[stage.name] = e
                continue
            }
            for (input, digest) in p.record.inputs where digest == StageKeyer.pending {
                guard let dot = input.firstIndex(of: "."), let upstream = projected[String(input[..<dot])] else { continue }
                p.record.inputs[input] = "projected \(upstream)\(input[dot...])"
            }
            projected[stage.name] = p.record.key
            result.append((stage.name, p.record.key))
        }
        return result
    }
}
