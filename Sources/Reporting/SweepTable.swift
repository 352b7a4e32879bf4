import Foundation
import Retrieval

/// One finished run of a sweep: which method, its grid values, its test metrics (nil if it failed).
public struct SweepRun: Sendable {
    public var method: String
    public var grid: [String: String]
    public var metrics: RetrievalMetrics?
    /// The run folder, for links from the sweep report.
    public var folder: String?
    /// Warm-up AUC and last-round purification figures (`RunRecord.extras`), when the run has them.
    public var extras: [String: Double]

    public init(method: String, grid: [String: String], metrics: RetrievalMetrics?, folder: String? = nil,
                extras: [String: Double] = [:]) {
        self.method = method
        self.grid = grid
        self.metrics = metrics
        self.folder = folder
        self.extras = extras
    }
}

/// Mean ± standard deviation of every metric over the replicates (e.g. seeds) of one grid point
/// and one method.
public struct SweepCell: Sendable {
    public var n: Int
    /// By metric key (`rsum`, `i2t_r1`, …).
    public var mean: [String: Double]
    /// Sample standard deviation (divides by n − 1); absent when n < 2.
    public var std: [String: Double]
}

/// The sweep's results: one row per grid point (the grid without the replicate axis), one cell
/// per method.
public struct SweepTable: Sendable {
    public var keys: [String]
    public var methods: [String]
    public var rows: [(point: [(name: String, value: String)], cells: [String: SweepCell])]

    static let metricKeys = ["i2t_r1", "i2t_r5", "i2t_r10", "i2t_medr", "i2t_meanr", "t2i_r1", "t2i_r5", "t2i_r10", "t2i_medr", "t2i_meanr", "rsum"]
    /// Figures besides the metrics; a cell averages those of its runs that have them.
    static let extraKeys = ["auc_a", "auc_b", "precision_a", "precision_b", "recall_a", "recall_b"]

    /// Groups `runs` by every grid axis except `replicate`; rows follow the grid's order.
    public init(grid: SweepGrid, replicate: String?, methods: [String], runs: [SweepRun]) {
        let axes = grid.axes.filter { $0.name != replicate }
        keys = axes.map(\.name)
        self.methods = methods
        var points: [[(name: String, value: String)]] = [[]]
        for a in axes { points = points.flatMap { p in a.values.map { p + [(a.name, $0)] } } }
        rows = points.map { point in
            var cells: [String: SweepCell] = [:]
            for m in methods {
                cells[m] = Self.cell(runs.filter { r in r.method == m && r.metrics != nil && point.allSatisfy { r.grid[$0.name] == $0.value } })
            }
            return (point, cells)
        }
    }

    static func cell(_ runs: [SweepRun]) -> SweepCell {
        let ms = runs.compactMap(\.metrics)
        var mean: [String: Double] = [:], std: [String: Double] = [:]
        var values: [(String, [Double])] = metricKeys.map { k in (k, ms.map { m in m.named.first { $0.key == k }?.value ?? .nan }) }
        values += extraKeys.map { k in (k, runs.compactMap { $0.extras[k] }) }
        for (k, xs) in values {
            guard !xs.isEmpty else { continue }
            let mu = xs.reduce(0, +) / Double(xs.count)
            mean[k] = mu
            if xs.count > 1 { std[k] = (xs.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(xs.count - 1)).squareRoot() }
        }
        return SweepCell(n: ms.count, mean: mean, std: std)
    }

    /// Wide CSV: grid values, then per method `<m>_n`, `<m>_<metric>_mean`, `<m>_<metric>_std`.
    public func csv() -> String {
        var header = keys
        for m in methods {
            header.append("\(m)_n")
            for k in Self.metricKeys + Self.extraKeys { header += ["\(m)_\(k)_mean", "\(m)_\(k)_std"] }
        }
        var lines = [header.joined(separator: ",")]
        for r in rows {
            var f = r.point.map { Self.csvField($0.value) }
            for m in methods {
                let c = r.cells[m]
                f.append(String(c?.n ?? 0))
                for k in Self.metricKeys + Self.extraKeys {
                    f.append(c?.mean[k].map { Fmt.f($0, 4) } ?? "")
                    f.append(c?.std[k].map { Fmt.f($0, 4) } ?? "")
                }
            }
            lines.append(f.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func pm(_ c: SweepCell?, _ k: String, digits: Int = 2) -> String {
        guard let c, let m = c.mean[k] else { return "–" }
        return Fmt.f(m, digits) + (c.std[k].map { " ± " + Fmt.f($0, digits) } ?? "")
    }

    static let shownKeys = ["rsum", "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "i2t_medr", "t2i_medr", "i2t_meanr", "t2i_meanr"]
    static let shownExtras = ["auc_a", "auc_b", "precision_a", "precision_b", "recall_a", "recall_b"]
    static let extraNames = ["auc_a": "AUC A", "auc_b": "AUC B", "precision_a": "prec A", "precision_b": "prec B",
                             "recall_a": "rec A", "recall_b": "rec B"]

    /// Rows per grid point and method, methods of one point next to each other.
    public func textTable() -> TextTable {
        // Warm-up AUC and purification columns only when some run has them (older run folders do not).
        let extras = Self.shownExtras.filter { k in rows.contains { r in r.cells.values.contains { $0.mean[k] != nil } } }
        let header = keys + ["method", "n"] + Self.shownKeys.map { RetrievalMetrics.displayNames[$0] ?? $0 }
            + extras.map { Self.extraNames[$0] ?? $0 }
        var out: [[String]] = []
        for r in rows {
            for m in methods {
                out.append(r.point.map(\.value) + [m, String(r.cells[m]?.n ?? 0)] + Self.shownKeys.map { Self.pm(r.cells[m], $0) }
                           + extras.map { Self.pm(r.cells[m], $0, digits: 3) })
            }
        }
        return TextTable(header: header, rows: out, numericFrom: keys.count + 1)
    }

    public func markdown(title: String, notes: [String] = []) -> String {
        var o = "# \(title)\n\nMean ± sample standard deviation over the replicates (n runs) of each grid point; test split."
        o += " AUC: the warm-up nets' clean-vs-noisy AUC; prec/rec: the last round's purification precision and recall.\n\n"
        o += textTable().markdown() + "\n"
        if !notes.isEmpty { o += "\n" + notes.map { "- \($0)" }.joined(separator: "\n") + "\n" }
        return o
    }
}
