import Artefacts
import Engine
import MSCN

/// Eval-mode scoring of pairs for purification and evaluation.
public enum Scoring {
    /// Diagonal scores of `(image features, caption tokens)` pairs, `chunk` pairs at a time.
    public static func diagonal(_ model: Model, count: Int, chunk: Int = 256,
                                pair: (Range<Int>) -> MSCN.PairBatch,
                                progress: ((Int, Int) -> Void)? = nil) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count)
        var start = 0
        while start < count {
            let r = start..<min(start + chunk, count)
            let b = pair(r)
            let v = model.encodeImages(b.images), e = model.encodeCaptions(b.captions)
            out += model.diagonalScores(images: v, captions: e, lengths: b.captions.lengths)
            start = r.upperBound
            progress?(start, count)
        }
        return out
    }

    /// A split encoded once: image regions and caption words in shards.
    public struct EncodedSplit {
        public var images: Tensor
        public var imageCount: Int
        public var captionShards: [(range: Range<Int>, words: Tensor, lengths: [Int])]
        public var captionCount: Int
    }

    public static func encode(_ model: Model, features: FeatureTable, captions: CaptionSet,
                              imageChunk: Int = 256, captionShard: Int = 500) -> EncodedSplit {
        var regionValues: [Float] = []
        var shape: [Int] = []
        var start = 0
        while start < features.count {
            let r = start..<min(start + imageChunk, features.count)
            let t = model.encodeImages(ImageBatch(features: features.gather(Array(r)), count: r.count,
                                                  regions: features.regions, dim: features.dim))
            regionValues += t.data
            shape = t.shape
            start = r.upperBound
        }
        let images = Tensor(shape: [features.count] + shape.dropFirst(), data: regionValues)
        var shards: [(Range<Int>, Tensor, [Int])] = []
        start = 0
        while start < captions.captionCount {
            let r = start..<min(start + captionShard, captions.captionCount)
            let batch = CaptionBatch(tokens: r.map { Array(captions.caption($0)) })
            shards.append((r, model.encodeCaptions(batch), batch.lengths))
            start = r.upperBound
        }
        return EncodedSplit(images: images, imageCount: features.count,
                            captionShards: shards.map { (range: $0.0, words: $0.1, lengths: $0.2) },
                            captionCount: captions.captionCount)
    }

    /// Scores of images `ir` × the caption shard starting at `cr` (which must be one encoded shard).
    public static func shard(_ model: Model, _ split: EncodedSplit, images ir: Range<Int>, captions cr: Range<Int>) throws -> [Float] {
        guard let s = split.captionShards.first(where: { $0.range == cr }) else {
            throw MetaSetError("caption range \(cr) is not an encoded shard")
        }
        let per = split.images.shape.dropFirst().reduce(1, *)
        let imgs = Tensor(shape: [ir.count] + split.images.shape.dropFirst(),
                          data: Array(split.images.data[(ir.lowerBound * per)..<(ir.upperBound * per)]))
        return model.scores(images: imgs, captions: s.words, lengths: s.lengths).data
    }
}
