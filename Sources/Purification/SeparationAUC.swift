/// How well a net's scores separate clean from noisy training pairs: the area under the ROC
/// curve, i.e. the probability that a random clean pair scores above a random noisy one (ties
/// count one half; Mann–Whitney U with average ranks). 0.5 is chance, 1 a perfect split.
///
/// This is the regime check of the warm-up: purification fits two Betas to these scores, so it
/// can only work when the warm-up already ranks clean pairs above noisy ones.
public enum SeparationAUC {
    /// The AUC of `scores` against `clean` (1 = clean), or nil when one class is empty (no noise,
    /// or every pair noisy): then the AUC is undefined, not 0.5.
    public static func auc(scores: [Float], clean: [UInt8]) throws -> Double? {
        guard scores.count == clean.count else {
            throw PurificationError("\(clean.count) clean labels for \(scores.count) scores")
        }
        if let bad = scores.first(where: { !$0.isFinite }) {
            throw PurificationError("score \(bad) is not finite")
        }
        let positives = clean.lazy.filter { $0 != 0 }.count
        let negatives = clean.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        // Rank sum of the clean pairs, with tied scores sharing the mean of their ranks.
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            let meanRank = Double(start + 1 + end) / 2   // ranks start+1 ... end
            for k in start..<end where clean[order[k]] != 0 { rankSum += meanRank }
            start = end
        }
        let p = Double(positives), n = Double(negatives)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }
}
