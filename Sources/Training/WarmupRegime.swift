import Foundation
import MSCN
import Purification
import TensorFile

/// The regime check of a warm-up: whether its net already ranks the clean training pairs above
/// the noisy ones (SPEC §6: purification starts from these scores). Written as `regime.json`
/// beside the warm-up checkpoint; keys `net`, `auc` (null when every pair is clean, or every pair
/// noisy), `captions`, `clean_captions`, `mean_score_clean`, `mean_score_noisy` (null for an empty class),
/// and `meta_auc`, `meta_pairs`: the same kind of AUC on the meta set of round 1 (its clean pairs
/// against its drawn negatives), which needs no clean labels of the training pairs, so it is there on
/// real noisy data too (absent in checks written before it was added).
public struct WarmupRegime: Codable, Equatable, Sendable {
    public var net: String
    public var auc: Double?
    public var captions: Int
    public var cleanCaptions: Int
    public var meanScoreClean: Double?
    public var meanScoreNoisy: Double?
    public var metaAUC: Double?
    public var metaPairs: Int?

    enum CodingKeys: String, CodingKey {
        case net, auc, captions
        case cleanCaptions = "clean_captions"
        case meanScoreClean = "mean_score_clean"
        case meanScoreNoisy = "mean_score_noisy"
        case metaAUC = "meta_auc"
        case metaPairs = "meta_pairs"
    }

    public init(net: String, scores: [Float], clean: [UInt8]) throws {
        self.net = net
        auc = try SeparationAUC.auc(scores: scores, clean: clean)
        captions = scores.count
        var sums = (0.0, 0.0), counts = (0, 0)
        for (s, c) in zip(scores, clean) {
            if c != 0 { sums.0 += Double(s); counts.0 += 1 } else { sums.1 += Double(s); counts.1 += 1 }
        }
        cleanCaptions = counts.0
        meanScoreClean = counts.0 > 0 ? sums.0 / Double(counts.0) : nil
        meanScoreNoisy = counts.1 > 0 ? sums.1 / Double(counts.1) : nil
    }

    /// Eval-mode scores of every training caption (before purification) with its noisy image,
    /// against the noise map's clean labels; and of the pairs of `meta`, against their own labels.
    ///
    /// `meta` should be round 1's meta set: the first purification scores the warm-up net on the
    /// same pairs, in the same chunks, so `meta_auc` is the separation its Betas start from.
    public static func measure(_ model: Model, data: TrainingData, net: String, meta: MetaSet,
                               progress: ((Int, Int) -> Void)? = nil) throws -> WarmupRegime {
        let base = data.baseCaptions
        let pairs = meta.pairs
        let total = base.count + pairs.count
        let scores = Scoring.diagonal(model, count: base.count, pair: { r in
            let caps = Array(base[r])
            return data.pairBatch(IndexBatch(captionIndices: caps, imageIndices: caps.map(data.imageOf)))
        }, progress: { done, _ in progress?(done, total) })
        let metaScores = Scoring.diagonal(model, count: pairs.count, pair: { r in
            data.metaBatch(Array(pairs[r])).pairs
        }, progress: { done, _ in progress?(base.count + done, total) })
        var check = try WarmupRegime(net: net, scores: scores, clean: base.map { data.noisy.clean[$0] })
        check.metaAUC = try SeparationAUC.auc(scores: metaScores, clean: pairs.map { $0.label == 1 ? 1 : 0 })
        check.metaPairs = pairs.count
        return check
    }

    /// One line for the stage's output.
    public var summary: String {
        let a = auc.map { String(format: "%.3f", $0) } ?? "n/a (one class is empty)"
        let c = meanScoreClean.map { String(format: "%.3f", $0) } ?? "-"
        let n = meanScoreNoisy.map { String(format: "%.3f", $0) } ?? "-"
        var line = "warm-up \(net) regime check: clean-vs-noisy AUC \(a) over \(captions) training pairs "
            + "(\(cleanCaptions) clean; mean score clean \(c), noisy \(n))"
        if let metaAUC, let metaPairs {
            line += String(format: "; meta AUC %.3f over the %d meta pairs (no training labels needed)", metaAUC, metaPairs)
        }
        return line
    }

    public func write(to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(e.encode(self), to: path)
    }
}
