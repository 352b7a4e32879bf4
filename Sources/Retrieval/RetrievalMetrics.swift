import Foundation

/// Recall at 1/5/10 (percent), median and mean rank (1-based) in both directions, and rSum.
///
/// Encodes to JSON with exactly the keys `i2t_r1 i2t_r5 i2t_r10 i2t_medr i2t_meanr t2i_r1 t2i_r5
/// t2i_r10 t2i_medr t2i_meanr rsum` (the file `mscn select-best` and the reports read).
public struct RetrievalMetrics: Codable, Equatable, Sendable {
    public var i2tR1: Double
    public var i2tR5: Double
    public var i2tR10: Double
    public var i2tMedianRank: Double
    public var i2tMeanRank: Double
    public var t2iR1: Double
    public var t2iR5: Double
    public var t2iR10: Double
    public var t2iMedianRank: Double
    public var t2iMeanRank: Double
    /// Sum of the six recalls.
    public var rsum: Double

    enum CodingKeys: String, CodingKey {
        case i2tR1 = "i2t_r1", i2tR5 = "i2t_r5", i2tR10 = "i2t_r10"
        case i2tMedianRank = "i2t_medr", i2tMeanRank = "i2t_meanr"
        case t2iR1 = "t2i_r1", t2iR5 = "t2i_r5", t2iR10 = "t2i_r10"
        case t2iMedianRank = "t2i_medr", t2iMeanRank = "t2i_meanr"
        case rsum
    }

    /// Metrics from their values; `rsum` is computed as the sum of the six recalls.
    public init(i2tR1: Double, i2tR5: Double, i2tR10: Double, i2tMedianRank: Double, i2tMeanRank: Double,
                t2iR1: Double, t2iR5: Double, t2iR10: Double, t2iMedianRank: Double, t2iMeanRank: Double) {
        self.i2tR1 = i2tR1
        self.i2tR5 = i2tR5
        self.i2tR10 = i2tR10
        self.i2tMedianRank = i2tMedianRank
        self.i2tMeanRank = i2tMeanRank
        self.t2iR1 = t2iR1
        self.t2iR5 = t2iR5
        self.t2iR10 = t2iR10
        self.t2iMedianRank = t2iMedianRank
        self.t2iMeanRank = t2iMeanRank
        rsum = i2tR1 + i2tR5 + i2tR10 + t2iR1 + t2iR5 + t2iR10
    }

    /// Metrics from 0-based ranks, as the reference computes them: recall = percentage of ranks
    /// below K, `medr = floor(median(ranks)) + 1` (numpy's median averages the two middle ranks of
    /// an even count), `meanr = mean(ranks) + 1`.
    public init(imageToTextRanks i2t: [Int], textToImageRanks t2i: [Int]) {
        self.init(i2tR1: Self.recall(i2t, 1), i2tR5: Self.recall(i2t, 5), i2tR10: Self.recall(i2t, 10),
                  i2tMedianRank: Self.medianRank(i2t), i2tMeanRank: Self.meanRank(i2t),
                  t2iR1: Self.recall(t2i, 1), t2iR5: Self.recall(t2i, 5), t2iR10: Self.recall(t2i, 10),
                  t2iMedianRank: Self.medianRank(t2i), t2iMeanRank: Self.meanRank(t2i))
    }

    /// Field-by-field mean (the COCO "1K" protocol averages the five folds' metrics, medr included,
    /// so it need not be an integer); rSum is the sum of the averaged recalls.
    public static func mean(_ folds: [RetrievalMetrics]) -> RetrievalMetrics {
        let n = Double(max(folds.count, 1))
        func avg(_ f: (RetrievalMetrics) -> Double) -> Double { folds.reduce(0) { $0 + f($1) } / n }
        return RetrievalMetrics(i2tR1: avg(\.i2tR1), i2tR5: avg(\.i2tR5), i2tR10: avg(\.i2tR10),
                                i2tMedianRank: avg(\.i2tMedianRank), i2tMeanRank: avg(\.i2tMeanRank),
                                t2iR1: avg(\.t2iR1), t2iR5: avg(\.t2iR5), t2iR10: avg(\.t2iR10),
                                t2iMedianRank: avg(\.t2iMedianRank), t2iMeanRank: avg(\.t2iMeanRank))
    }

    static func recall(_ ranks: [Int], _ k: Int) -> Double {
        guard !ranks.isEmpty else { return 0 }
        return 100 * Double(ranks.lazy.filter { $0 < k }.count) / Double(ranks.count)
    }

    static func medianRank(_ ranks: [Int]) -> Double {
        guard !ranks.isEmpty else { return 0 }
        let s = ranks.sorted()
        let n = s.count
        let median = n % 2 == 1 ? Double(s[n / 2]) : (Double(s[n / 2 - 1]) + Double(s[n / 2])) / 2
        return median.rounded(.down) + 1
    }

    static func meanRank(_ ranks: [Int]) -> Double {
        guard !ranks.isEmpty else { return 0 }
        return Double(ranks.reduce(0, +)) / Double(ranks.count) + 1
    }

    /// A small fixed-width table for reports and terminals.
    public func table(title: String? = nil) -> String {
        func f(_ v: Double) -> String { String(format: "%7.2f", v) }
        var lines: [String] = []
        if let title { lines.append(title) }
        lines.append("        R@1     R@5    R@10    medr   meanr")
        lines.append("i2t " + [i2tR1, i2tR5, i2tR10, i2tMedianRank, i2tMeanRank].map(f).joined(separator: " "))
        lines.append("t2i " + [t2iR1, t2iR5, t2iR10, t2iMedianRank, t2iMeanRank].map(f).joined(separator: " "))
        lines.append("rSum " + String(format: "%.2f", rsum))
        return lines.joined(separator: "\n")
    }
}
