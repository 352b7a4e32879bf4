import Foundation

extension RunReportInputs {
    /// The inputs of a finished run, found in its run folder by the stage names of
    /// `Pipelines/mscn.yaml` (`evaluate_dev@N/metrics`, `purify_a@N/{report,mask}`,
    /// `warmup_a/log`, `train_a@N/log` (or the baseline's `plain_a@N/log`), `noise/map`, `split/meta`, `select/best`,
    /// `evaluate_test/{metrics,scores}`, `ingest/data/…`, the last `regime_a@N/regime`). Only fields still empty are filled,
    /// so explicit flags win; files the folder lacks stay unset (their section says so).
    public mutating func fill(fromRunFolder folder: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw ReportError("no such run folder", path: folder)
        }
        func file(_ rel: String) -> String? {
            let p = folder + "/" + rel
            return fm.fileExists(atPath: p) ? p : nil
        }
        /// `<family>@N/<output>` for every round N present, in round order.
        func numbered(_ family: String, _ output: String) -> [(round: Int, path: String)] {
            let names = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            return names.compactMap { n -> (Int, String)? in
                guard n.hasPrefix(family + "@"), let r = Int(n.dropFirst(family.count + 1)), let p = file(n + "/" + output) else { return nil }
                return (r, p)
            }.sorted { $0.0 < $1.0 }
        }
        func rounds(_ family: String, _ output: String) -> [String] { numbered(family, output).map(\.path) }
        // Per-round lists are read by position: a round missing in the middle would shift every
        // later round's figures onto the wrong round.
        for family in ["evaluate_dev", "purify_a", "purify_b"] {
            let found = numbered(family, family == "evaluate_dev" ? "metrics" : "report").map(\.round)
            if let first = found.first, let gap = zip(found, found.dropFirst()).first(where: { $1 != $0 + 1 }) {
                throw ReportError("\(family)@\(gap.0 + 1) is missing (rounds \(first)…\(found.last ?? first) otherwise present): an unfinished or damaged run", path: folder)
            }
        }
        if params == nil { params = file("params.json") }
        if devMetrics.isEmpty { devMetrics = rounds("evaluate_dev", "metrics") }
        if best == nil { best = file("select/best") ?? file("best.json") }
        if testMetrics == nil { testMetrics = file("evaluate_test/metrics") ?? file("metrics.json") }
        if purifyA.isEmpty && masksA.isEmpty { purifyA = rounds("purify_a", "report"); masksA = rounds("purify_a", "mask") }
        if purifyB.isEmpty && masksB.isEmpty { purifyB = rounds("purify_b", "report"); masksB = rounds("purify_b", "mask") }
        if masksA.count != purifyA.count { masksA = [] }
        if masksB.count != purifyB.count { masksB = [] }
        // The regime check of the last warm-up epoch (the pipelines check that one only).
        if regime.isEmpty { regime = [rounds("regime_a", "regime").last, rounds("regime_b", "regime").last].compactMap { $0 } }
        if noise == nil { noise = file("noise/map") }
        if meta == nil { meta = file("split/meta") }
        // MSCN rounds train as train_a@N; the baseline's (Pipelines/baseline.yaml) as plain_a@N.
        func logs(_ net: String) -> [String] {
            let r = rounds("train_" + net, "log")
            return [file("warmup_\(net)/log")].compactMap { $0 } + (r.isEmpty ? rounds("plain_" + net, "log") : r)
        }
        if trainLogsA.isEmpty { trainLogsA = logs("a") }
        if trainLogsB.isEmpty { trainLogsB = logs("b") }
        if examplesScores == nil { examplesScores = file("evaluate_test/scores") }
        if examplesCorpus == nil { examplesCorpus = file("ingest/data/corpus.tzst") }
        if examplesImages == nil { examplesImages = file("ingest/data/images-test.tzst") }
        if vocab == nil { vocab = file("ingest/data/vocab.json") }
    }
}
