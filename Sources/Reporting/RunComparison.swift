import Foundation
import Retrieval

/// `mscn runs` and `mscn diff`: runs side by side, and what differs between two.
public enum RunComparison {
    static let headline = ["rsum", "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"]

    /// One row per run: name (`*` marks `latest`), the parameters that differ between the runs
    /// (all of them with `allParams`), best round and headline test metrics.
    public static func table(_ runs: [RunRecord], latest: String? = nil, allParams: Bool = false) -> TextTable {
        var keys = Set<String>()
        for r in runs { keys.formUnion(r.params?.values.keys ?? [:].keys) }
        let shown = keys.sorted().filter { k in
            allParams || Set(runs.map { $0.params?.values[k] ?? "" }).count > 1
        }
        let header = ["run"] + shown + ["best", "rSum", "i2t R@1", "i2t R@5", "i2t R@10", "t2i R@1", "t2i R@5", "t2i R@10"]
        let rows = runs.map { r -> [String] in
            let m = r.metrics.map { Dictionary(uniqueKeysWithValues: $0.named.map { ($0.key, $0.value) }) }
            return [(r.name == latest ? "* " : "") + r.name] + shown.map { r.params?.values[$0] ?? "–" }
                + [r.best.map { String($0.bestRound) } ?? "–"] + headline.map { k in m.flatMap { $0[k] }.map { Fmt.f($0) } ?? "–" }
        }
        return TextTable(header: header, rows: rows, numericFrom: 1 + shown.count)
    }

    /// The parameters, metrics and stage outputs in which `a` and `b` differ.
    public static func diff(_ a: RunRecord, _ b: RunRecord) -> String {
        var o: [String] = ["\(a.name) → \(b.name)"]
        let pa = a.params?.values ?? [:], pb = b.params?.values ?? [:]
        let keys = Set(pa.keys).union(pb.keys).sorted()
        let changed = keys.filter { pa[$0] != pb[$0] }
        o.append("")
        o.append(changed.isEmpty ? "parameters: all \(keys.count) equal" : "parameters (\(changed.count) of \(keys.count) differ):")
        let pw = changed.map(\.count).max() ?? 0
        for k in changed { o.append("  " + k.padding(toLength: pw, withPad: " ", startingAt: 0) + "  \(pa[k] ?? "(unset)") → \(pb[k] ?? "(unset)")") }
        if (a.params?.pipeline ?? "") != (b.params?.pipeline ?? "") {
            o.append("  pipeline: \(a.params?.pipeline ?? "?") → \(b.params?.pipeline ?? "?")")
        }

        o.append("")
        switch (a.metrics, b.metrics) {
        case let (ma?, mb?):
            let diffs = zip(ma.named, mb.named).filter { $0.0.value != $0.1.value }
            o.append(diffs.isEmpty ? "test metrics: equal" : "test metrics (\(diffs.count) of \(ma.named.count) differ):")
            for (x, y) in diffs {
                let name = (RetrievalMetrics.displayNames[x.key] ?? x.key).padding(toLength: 10, withPad: " ", startingAt: 0)
                let d = y.value - x.value
                o.append("  \(name)  \(Fmt.f(x.value)) → \(Fmt.f(y.value))  (\(d >= 0 ? "+" : "")\(Fmt.f(d)))")
            }
        default:
            o.append("test metrics: \(a.metrics == nil ? "missing in \(a.name)" : "present in \(a.name)"), \(b.metrics == nil ? "missing in \(b.name)" : "present in \(b.name)")")
        }
        if let ba = a.best, let bb = b.best, ba.bestRound != bb.bestRound || ba.bestRsum != bb.bestRsum {
            o.append("  best round  \(ba.bestRound) (dev rSum \(Fmt.f(ba.bestRsum))) → \(bb.bestRound) (dev rSum \(Fmt.f(bb.bestRsum)))")
        }

        let stages = Set(a.outputs.keys).union(b.outputs.keys).map { $0.split(separator: "/").first.map(String.init) ?? $0 }
        let differing = Set(Set(a.outputs.keys).union(b.outputs.keys).filter { a.outputs[$0] != b.outputs[$0] }
            .map { $0.split(separator: "/").first.map(String.init) ?? $0 })
        o.append("")
        if differing.isEmpty {
            o.append("stage outputs: all \(Set(stages).count) stages identical")
        } else {
            o.append("stage outputs differ in \(differing.count) of \(Set(stages).count) stages: " + differing.sorted(by: stageOrder).joined(separator: " "))
        }
        return o.joined(separator: "\n")
    }

    /// `train_a@2` before `train_a@10`.
    static func stageOrder(_ x: String, _ y: String) -> Bool {
        let (fx, rx) = split(x), (fy, ry) = split(y)
        return fx != fy ? fx < fy : rx < ry
    }

    static func split(_ s: String) -> (String, Int) {
        guard let at = s.firstIndex(of: "@"), let n = Int(s[s.index(after: at)...]) else { return (s, 0) }
        return (String(s[..<at]), n)
    }
}
