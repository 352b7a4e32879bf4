import Foundation

/// Everything an MSCN round (`Trainer.round`) draws before its first step: the main batches in
/// order, the round's meta set and which of its pairs each step's meta step uses. `Trainer.round`
/// trains on exactly this plan, so a plan written out (`mscn-train --batch-plan-out`) is the order
/// the round used; `Tests/Reference/run_official.py --batch-plan` feeds it to the official loop.
public struct RoundPlan: Sendable {
    public var round: Int
    public var net: String
    public var seed: UInt64
    /// The captions the round trains on (those the mask keeps), ascending.
    public var captions: [Int]
    /// Main batches, step by step (captions and their noisy images).
    public var batches: [IndexBatch]
    /// The round's meta set: the split's positives in file order, then that round's negatives.
    public var metaSet: MetaSet
    /// Per step: positions in `metaSet.pairs` of the meta batch its meta step uses (nil: no meta step).
    public var metaSteps: [[Int]?]

    /// The meta pairs of step `i`'s meta step, if it has one.
    public func metaPairs(step i: Int) -> [MetaPair]? {
        metaSteps[i].map { $0.map { metaSet.pairs[$0] } }
    }

    /// The plan as JSON (format `mscn-round-plan/1`): `captions` the kept captions, ascending (a
    /// final batch of one is not trained, so the steps may hold one fewer); `steps[i].captions` /
    /// `.images` training caption and image indices; `steps[i].meta` positions in `meta_pairs`
    /// ([source, caption, image, label]; source 0 train, 1 dev, 2 meta), absent without a meta step.
    public func json(batchSize: Int, metaInterval: Int) throws -> Data {
        struct Step: Encodable {
            var captions: [Int]
            var images: [Int]
            var meta: [Int]?
        }
        struct File: Encodable {
            var format = "mscn-round-plan/1"
            var round: Int
            var net: String
            var seed: UInt64
            var batch_size: Int
            var meta_interval: Int
            var kept: Int
            var captions: [Int]
            var meta_positives: Int
            var meta_pairs: [[Double]]
            var steps: [Step]
        }
        let file = File(round: round, net: net, seed: seed, batch_size: batchSize, meta_interval: metaInterval,
                        kept: captions.count, captions: captions,
                        meta_positives: metaSet.positives.count,
                        meta_pairs: metaSet.pairs.map { [Double($0.source.rawValue), Double($0.caption), Double($0.image), Double($0.label)] },
                        steps: zip(batches, metaSteps).map { Step(captions: $0.captionIndices, images: $0.imageIndices, meta: $1) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(file)
    }
}
