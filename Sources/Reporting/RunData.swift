import Foundation
import Purification
import Retrieval

/// One purification `report.json`: the `PurificationReport` plus which round and net it belongs to.
public struct RoundPurification: Sendable {
    public var round: Int
    public var net: String
    public var report: PurificationReport

    private struct Tag: Decodable { var round: Int; var net: String }

    public static func load(_ path: String) throws -> RoundPurification {
        let report = try InputFile.decode(PurificationReport.self, path, what: "purification report")
        let tag = try InputFile.decode(Tag.self, path, what: "purification report with round and net")
        return RoundPurification(round: tag.round, net: tag.net, report: report)
    }
}

/// `regime.json` of a warm-up (`mscn-train --mode warmup --regime`): how well the warm-up net's
/// scores separate the clean training pairs from the noisy ones.
public struct WarmupCheck: Decodable, Equatable, Sendable {
    public var net: String
    /// nil when one class is empty (no noise).
    public var auc: Double?
    public var captions: Int
    public var cleanCaptions: Int
    /// The meta set's clean pairs against its negatives (absent in checks written before it was added).
    public var metaAUC: Double?

    enum CodingKeys: String, CodingKey {
        case net, auc, captions
        case cleanCaptions = "clean_captions"
        case metaAUC = "meta_auc"
    }

    public static func load(_ path: String) throws -> WarmupCheck {
        try InputFile.decode(WarmupCheck.self, path, what: "warm-up regime check")
    }
}

/// `best.json` written by `mscn select-best`.
public struct BestRound: Codable, Equatable, Sendable {
    public var bestRound: Int
    public var bestRsum: Double
    public var rsumPerRound: [Double]
    /// Round of `rsumPerRound[0]`: 0 when the warm-up pair was a candidate (absent in older notes: 1).
    public var firstRound: Int

    enum CodingKeys: String, CodingKey {
        case bestRound = "best_round", bestRsum = "best_rsum", rsumPerRound = "rsum_per_round", firstRound = "first_round"
    }

    public init(bestRound: Int, bestRsum: Double, rsumPerRound: [Double], firstRound: Int = 1) {
        self.bestRound = bestRound
        self.bestRsum = bestRsum
        self.rsumPerRound = rsumPerRound
        self.firstRound = firstRound
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bestRound = try c.decode(Int.self, forKey: .bestRound)
        bestRsum = try c.decode(Double.self, forKey: .bestRsum)
        rsumPerRound = try c.decode([Double].self, forKey: .rsumPerRound)
        firstRound = try c.decodeIfPresent(Int.self, forKey: .firstRound) ?? 1
    }

    public static func load(_ path: String) throws -> BestRound {
        try InputFile.decode(BestRound.self, path, what: "best-round note")
    }
}

/// The effective parameters of a run: the runner's `params.json` (`{"pipeline", "params",
/// "overrides"}`) or a flat `{"name": value}` object.
public struct RunParameters: Equatable, Sendable {
    public var pipeline: String?
    public var values: [String: String]
    public var overridden: Set<String>

    public init(pipeline: String? = nil, values: [String: String], overridden: Set<String> = []) {
        self.pipeline = pipeline
        self.values = values
        self.overridden = overridden
    }

    public static func load(_ path: String) throws -> RunParameters {
        let obj = try InputFile.object(path, what: "parameter file")
        if let p = obj["params"] as? [String: Any] {
            let o = (obj["overrides"] as? [String: Any]) ?? [:]
            return RunParameters(pipeline: obj["pipeline"] as? String, values: p.mapValues(text), overridden: Set(o.keys))
        }
        return RunParameters(values: obj.mapValues(text))
    }

    static func text(_ v: Any) -> String {
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        if let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]) {
            return String(decoding: d, as: UTF8.self)
        }
        return "\(v)"
    }
}

extension RetrievalMetrics {
    /// Reads a `metrics.json`.
    public static func load(_ path: String) throws -> RetrievalMetrics {
        try InputFile.decode(RetrievalMetrics.self, path, what: "metrics file")
    }

    /// Every metric by its JSON key, in the file's key order.
    public var named: [(key: String, value: Double)] {
        [("i2t_r1", i2tR1), ("i2t_r5", i2tR5), ("i2t_r10", i2tR10), ("i2t_medr", i2tMedianRank), ("i2t_meanr", i2tMeanRank),
         ("t2i_r1", t2iR1), ("t2i_r5", t2iR5), ("t2i_r10", t2iR10), ("t2i_medr", t2iMedianRank), ("t2i_meanr", t2iMeanRank),
         ("rsum", rsum)]
    }

    /// Display names of the JSON keys.
    public static let displayNames: [String: String] = [
        "i2t_r1": "i2t R@1", "i2t_r5": "i2t R@5", "i2t_r10": "i2t R@10", "i2t_medr": "i2t medr", "i2t_meanr": "i2t meanr",
        "t2i_r1": "t2i R@1", "t2i_r5": "t2i R@5", "t2i_r10": "t2i R@10", "t2i_medr": "t2i medr", "t2i_meanr": "t2i meanr",
        "rsum": "rSum",
    ]
}
