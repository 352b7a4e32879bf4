import Foundation
import Retrieval

/// What a run folder (`<data>/runs/<name>/`, written by the runner) says about one run:
/// its parameters, its published metrics and best round, and which object each stage output is.
public struct RunRecord: Sendable {
    public var name: String
    public var folder: String
    public var params: RunParameters?
    /// Published test metrics (`metrics.json`).
    public var metrics: RetrievalMetrics?
    public var best: BestRound?
    /// `stage/output` → link target (a content-addressed object), for telling where runs diverge.
    public var outputs: [String: String]
    /// Files that exist but could not be read (a listing shows them instead of stopping).
    public var problems: [String]
    /// Figures beside the test metrics, when the run has them: `auc_a`, `auc_b` (warm-up regime
    /// checks, `regime_<net>@N/regime`), `precision_a/b`, `recall_a/b` (the last round's
    /// purification, `purify_<net>@<last>/report`).
    public var extras: [String: Double] = [:]

    /// Reads `folder`; missing files leave fields empty, unreadable ones are noted in `problems`.
    public static func load(_ folder: String) -> RunRecord {
        let fm = FileManager.default
        var r = RunRecord(name: (folder as NSString).lastPathComponent, folder: folder, params: nil, metrics: nil,
                          best: nil, outputs: [:], problems: [])
        func read<T>(_ file: String, _ f: (String) throws -> T) -> T? {
            let p = folder + "/" + file
            guard fm.fileExists(atPath: p) else { return nil }
            do { return try f(p) } catch {
                r.problems.append("\(error)")
                return nil
            }
        }
        r.params = read("params.json", RunParameters.load)
        r.metrics = read("metrics.json", RetrievalMetrics.load)
        r.best = read("best.json", BestRound.load)
        let stages = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        func lastOf(_ prefix: String) -> Int? {
            stages.compactMap { $0.hasPrefix(prefix + "@") ? Int($0.dropFirst(prefix.count + 1)) : nil }.max()
        }
        for net in ["a", "b"] {
            // The regime check of the warm-up's last epoch: the stage regime_a@N, or in runs made
            // before it was a stage of its own, the end of the epoch stage warmup_a@N (or warmup_a).
            let check = lastOf("regime_\(net)").map { "regime_\(net)@\($0)" }
                ?? lastOf("warmup_\(net)").map { "warmup_\(net)@\($0)" } ?? "warmup_\(net)"
            if let c = read("\(check)/regime", WarmupCheck.load), let auc = c.auc { r.extras["auc_\(net)"] = auc }
            if let last = lastOf("purify_\(net)"), let p = read("purify_\(net)@\(last)/report", RoundPurification.load) {
                r.extras["precision_\(net)"] = p.report.precision
                r.extras["recall_\(net)"] = p.report.recall
            }
        }
        for stage in ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted() {
            var isDir: ObjCBool = false
            let dir = folder + "/" + stage
            guard (try? fm.destinationOfSymbolicLink(atPath: dir)) == nil,
                  fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            for out in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                if let t = try? fm.destinationOfSymbolicLink(atPath: dir + "/" + out) { r.outputs[stage + "/" + out] = t }
            }
        }
        return r
    }

    /// Every run under `runs` (not the `latest` link), by name.
    public static func list(_ runs: String) throws -> [RunRecord] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: runs, isDirectory: &isDir), isDir.boolValue else {
            throw ReportError("no runs folder (run a pipeline first)", path: runs)
        }
        let names = (try? fm.contentsOfDirectory(atPath: runs)) ?? []
        return names.sorted().compactMap { n -> RunRecord? in
            let p = runs + "/" + n
            guard n != "latest", !n.hasPrefix("."), fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue else { return nil }
            return load(p)
        }
    }

    /// The run `latest` points at, if any.
    public static func latest(_ runs: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: runs + "/latest")).map { ($0 as NSString).lastPathComponent }
    }
}
