import Foundation
import Retrieval

/// A run's story in a few plain-text lines for the terminal (`mscn report --summary`): whether
/// the warm-up separated clean from noisy pairs, what purification kept in its first and last
/// rounds, the dev rSum of every round and the test result. The same facts as the HTML report's
/// summary, regime and purification sections, without the figures.
public enum RunSummaryText {
    public static func render(_ inputs: RunReportInputs) throws -> String {
        let figures = try RunFigures(inputs)
        let values = figures.params?.values ?? [:]
        let (dev, best, test, regime) = (figures.dev, figures.best, figures.test, figures.regime)
        let (purA, purB) = (figures.purificationA, figures.purificationB)

        var lines: [String] = []
        let setting = ["data", "noise", "seed"].compactMap { k in values[k].map { "\(k) \($0)" } }
        if !setting.isEmpty { lines.append(setting.joined(separator: ", ")) }
        if !regime.isEmpty {
            let aucs = regime.map { "\($0.net) \($0.auc.map { Fmt.f($0, 3) } ?? "n/a")" }.joined(separator: ", ")
            lines.append("warm-up: clean-vs-noisy AUC \(aucs) (0.5 is chance; purification needs it high)")
        }
        for (net, list) in [("A", purA), ("B", purB)] where !list.isEmpty {
            let sorted = list.sorted { $0.round < $1.round }
            let ends = sorted.count > 1 ? [sorted[0], sorted[sorted.count - 1]] : [sorted[0]]
            let said = ends.map { p -> String in
                let r = p.report
                var s = "round \(p.round) kept \(r.kept)"
                if let precision = r.precision, let recall = r.recall {
                    s += ", precision \(Fmt.f(precision, 3)) recall \(Fmt.f(recall, 3))"
                }
                if r.collapsed != nil { s += " (collapsed)" }
                return s
            }
            let r = sorted[0].report
            let of = r.cleanCaptions.map { "\($0) of \(r.captions) captions clean" } ?? "\(r.captions) captions"
            lines.append("purification by net \(net) (\(of)): " + said.joined(separator: "; "))
        }
        if !dev.isEmpty {
            let first = best?.firstRound ?? 1
            let rounds = "\(first)–\(first + dev.count - 1)"
            lines.append("dev rSum, rounds \(rounds): " + dev.map { Fmt.f($0.rsum, 1) }.joined(separator: " ")
                         + (best.map { " (best: round \($0.bestRound)\($0.bestRound == 0 ? ", the warm-up pair" : ""))" } ?? ""))
        }
        if let test {
            lines.append("test rSum \(Fmt.f(test.rsum)) (i2t R@1 \(Fmt.f(test.i2tR1, 1)), t2i R@1 \(Fmt.f(test.t2iR1, 1)))"
                         + (best.map { " with round \($0.bestRound)'s nets" } ?? ""))
        }
        if lines.isEmpty { throw ReportError("nothing to summarise: no metrics, purification reports or regime checks given") }
        return lines.joined(separator: "\n") + "\n"
    }
}
