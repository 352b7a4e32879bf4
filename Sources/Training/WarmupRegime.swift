import Foundation
import MSCN
import Purification
import TensorFile

/// The regime check of a warm-up: whether its net already ranks the clean training pairs above
/// the noisy ones (SPEC §6: purification starts from these scores). Written as `regime.json`
/// beside the warm-up checkpoint; keys `net`, `auc` (null when every pair is clean, or every pair
/// noisy), `captions`, `clean_captions`, `mean_score_clean`, `mean_score_noisy` (null for an empty class).
public struct WarmupRegime: Codable, Equatable, Sendable {
    public var net: String
    public var auc: Double?
    public var captions: Int
    public var cleanCaptions: Int
    public var meanScoreClean: Double?
    public var meanScoreNoisy: Double?

    enum CodingKeys: String, CodingKey {
        case net, auc, captions
        case cleanCaptions = "clean_captions"
        case meanScoreClean = "mean_score_clean"
        case meanScoreNoisy = "mean_score_noisy"
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
    /// against the noise map's clean labels.
    public static func measure(_ model: Model, data: TrainingData, net: String,
                               progress: ((Int, Int) -> Void)? = nil) throws -> WarmupRegime {
        let base = data.baseCaptions
        let scores = Scoring.diagonal(model, count: base.count, pair: { r in
            let caps = Array(base[r])
            return data.pairBatch(IndexBatch(captionIndices: caps, imageIndices: caps.map(data.imageOf)))
        }, progress: progress)
        return try WarmupRegime(net: net, scores: scores, clean: base.map { data.noisy.clean[$0] })
    }

    /// One line for the stage's output.
    public var summary: String {
        let a = auc.map { String(format: "%.3f", $0) } ?? "n/a (one class is empty)"
        let c = meanScoreClean.map { String(format: "%.3f", $0) } ?? "-"
        let n = meanScoreNoisy.map { String(format: "%.3f", $0) } ?? "-"
        return "warm-up \(net) regime check: clean-vs-noisy AUC \(a) over \(captions) training pairs "
            + "(\(cleanCaptions) clean; mean score clean \(c), noisy \(n))"
    }

    public func write(to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(e.encode(self), to: path)
    }
}
