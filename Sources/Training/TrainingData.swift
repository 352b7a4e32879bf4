import Artefacts
import DataPrep
import MSCN
import TensorFile

/// Everything one training or purification stage reads: training features and captions, the
/// noisy map, the meta split and the features/captions its pairs come from.
public struct TrainingData {
    public var features: FeatureTable
    public var captions: CaptionSet
    public var noisy: NoisyMap
    public var meta: MetaSplit
    /// Features and captions by meta source (train, dev, or the corpus's meta split).
    public var metaFeatures: [MetaSource: FeatureTable]
    public var metaCaptions: [MetaSource: CaptionSet]
    /// Vocabulary size of the corpus (what a checkpoint's embedding must match).
    public var vocabularySize: Int

    /// Fails when a noise map or meta split records (`input_digest`) that it was made from
    /// another corpus than `corpus`: one of the same size would pass every count check and the
    /// stage would use the wrong pairs. Files without the record are not checked.
    public static func requireMadeFrom(_ corpus: String, _ files: [(path: String, what: String)]) throws {
        var corpusDigest: String?
        for (path, what) in files {
            guard let made = try TensorFileReader(path: path).metadata["input_digest"] else { continue }
            let digest = try corpusDigest ?? ContentDigest.file(corpus)
            corpusDigest = digest
            if made != digest {
                // A damaged corpus has another digest too: say that, not that the map is foreign.
                try TensorFileReader(path: corpus).verify()
                throw TensorFileError(path, "this \(what) was made from another corpus (digest \(made)) than \(corpus) (\(digest)), or that file's bytes changed since")
            }
        }
    }

    /// Loads and cross-checks the artefacts; every mismatch names the file.
    public static func load(features: String, corpus: String, noise: String, meta: String,
                            devFeatures: String?, metaFeatures: String?) throws -> TrainingData {
        let c = try Corpus.load(corpus)
        let train = try c.split("train", path: corpus)
        let f = try FeatureTable(path: features)
        try f.requireSplit("train")
        guard f.count == train.imageCount else {
            throw TensorFileError(features, "has \(f.count) images, the corpus's train split has \(train.imageCount)")
        }
        try requireMadeFrom(corpus, [(noise, "noise map"), (meta, "meta split")])
        let n = try NoisyMap.load(noise)
        guard n.imageOfCaption.count == train.captionCount else {
            throw TensorFileError(noise, "maps \(n.imageOfCaption.count) captions, the train split has \(train.captionCount)")
        }
        if let bad = n.imageOfCaption.first(where: { $0 < 0 || Int($0) >= f.count }) {
            throw TensorFileError(noise, "maps a caption to image \(bad), outside 0..<\(f.count)")
        }
        // Labels other than the map's own (`NoiseInjection.cleanLabels`) would make every
        // precision and recall figure wrong.
        let k = train.captionsPerImage
        let labels = NoiseInjection.cleanLabels(n.imageOfCaption, captionsPerImage: k)
        if let j = n.clean.indices.first(where: { (n.clean[$0] != 0) != (labels[$0] != 0) }) {
            throw TensorFileError(noise, "caption \(j) is labelled \(n.clean[j] != 0 ? "clean" : "noisy") but maps to image \(n.imageOfCaption[j]), its own being \(j / k)")
        }
        let m = try MetaSplit.load(meta)
        guard m.trainKeep.isEmpty || m.trainKeep.count == train.captionCount else {
            throw TensorFileError(meta, "train_keep has \(m.trainKeep.count) entries, the train split has \(train.captionCount) captions")
        }
        guard !m.caption.isEmpty else { throw TensorFileError(meta, "the meta set is empty") }
        var mf: [MetaSource: FeatureTable] = [.train: f]
        var mc: [MetaSource: CaptionSet] = [.train: train]
        let sources = Set(m.source.compactMap { MetaSource(rawValue: $0) })
        for s in sources where s != .train {
            let name = s == .dev ? "dev" : "meta"
            guard let path = s == .dev ? devFeatures : metaFeatures else {
                throw TensorFileError(meta, "has \(name) pairs: give the \(name) features (--\(name)-features)")
            }
            let table = try FeatureTable(path: path)
            try table.requireSplit(name)
            let caps = try c.split(name, path: corpus)
            guard table.count == caps.imageCount, table.regions == f.regions, table.dim == f.dim else {
                throw TensorFileError(path, "is [\(table.count), \(table.regions), \(table.dim)], expected \(caps.imageCount) images of [\(f.regions), \(f.dim)] as in the training features \(features)")
            }
            mf[s] = table
            mc[s] = caps
        }
        for p in 0..<m.caption.count {
            guard let s = MetaSource(rawValue: m.source[p]), let caps = mc[s], let table = mf[s] else {
                throw TensorFileError(meta, "meta pair \(p) has an unknown source \(m.source[p])")
            }
            guard (0..<caps.captionCount).contains(Int(m.caption[p])), (0..<table.count).contains(Int(m.image[p])) else {
                throw TensorFileError(meta, "meta pair \(p) points outside its split")
            }
        }
        return TrainingData(features: f, captions: train, noisy: n, meta: m, metaFeatures: mf, metaCaptions: mc,
                            vocabularySize: c.vocabularySize)
    }

    /// Training captions available before purification (`train_keep` of the split).
    public var baseCaptions: [Int] {
        (0..<captions.captionCount).filter { meta.trainKeep.isEmpty || meta.trainKeep[$0] != 0 }
    }

    public func imageOf(_ caption: Int) -> Int { Int(noisy.imageOfCaption[caption]) }

    /// The model batch for training captions `captions` with their noisy images.
    public func pairBatch(_ b: IndexBatch) -> MSCN.PairBatch {
        MSCN.PairBatch(images: ImageBatch(features: features.gather(b.imageIndices), count: b.count,
                                          regions: features.regions, dim: features.dim),
                       captions: CaptionBatch(tokens: b.captionIndices.map { Array(captions.caption($0)) }))
    }

    /// The model batch for meta pairs (each from its own source split).
    public func metaBatch(_ pairs: [MetaPair]) -> MetaBatch {
        var feats: [Float] = []
        feats.reserveCapacity(pairs.count * features.regions * features.dim)
        var tokens: [[Int32]] = []
        for p in pairs {
            // Sources were checked in `load`.
            let table = metaFeatures[p.source] ?? features
            let caps = metaCaptions[p.source] ?? captions
            feats += table.gather([p.image])
            tokens.append(Array(caps.caption(p.caption)))
        }
        let images = ImageBatch(features: feats, count: pairs.count, regions: features.regions, dim: features.dim)
        return MetaBatch(pairs: MSCN.PairBatch(images: images, captions: CaptionBatch(tokens: tokens)),
                         labels: pairs.map(\.label))
    }

    /// The meta set of `round` (positives + that round's negatives).
    public func metaSet(seed: UInt64, round: Int, referenceNegativeCheck: Bool) throws -> MetaSet {
        try MetaSet.forRound(meta, trainCaptions: captions.captionCount, captionsPerImage: captions.captionsPerImage,
                             trainImages: features.count, seed: seed, round: round,
                             referenceNegativeCheck: referenceNegativeCheck)
    }
}
