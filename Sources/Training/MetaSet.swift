import Artefacts
import MSCNRandom

/// Where a meta pair's caption and image come from.
public enum MetaSource: UInt8, Sendable {
    case train = 0
    case dev = 1
    /// The corpus's own `meta` split (`mscn-split --rule given`).
    case meta = 2
}

/// A meta pair: caption and image from `source`, with its label (1 clean, 0 mismatched).
public struct MetaPair: Sendable, Equatable {
    public var source: MetaSource
    public var caption: Int
    public var image: Int
    public var label: Float
}

/// The meta set of one epoch: the clean pairs from `mscn-split` plus as many negatives,
/// redrawn every epoch (SPEC §3).
public struct MetaSet: Sendable {
    public var pairs: [MetaPair]

    /// Positive pairs of `split`, then negatives drawn for `round`.
    ///
    /// Negatives pair a training caption (drawn without replacement) with a random training image
    /// that is not the caption's image. With `referenceNegativeCheck` (SPEC quirk 9, the default)
    /// the check compares the caption *index* with the image index, as the reference does, so a
    /// negative can rarely be the caption's true image.
    public static func forRound(_ split: MetaSplit, trainCaptions: Int, captionsPerImage: Int, trainImages: Int,
                                seed: UInt64, round: Int, referenceNegativeCheck: Bool = true) throws -> MetaSet {
        var pairs: [MetaPair] = []
        for p in 0..<split.caption.count {
            guard let source = MetaSource(rawValue: split.source[p]) else {
                throw MetaSetError("meta pair \(p) has unknown source \(split.source[p])")
            }
            pairs.append(MetaPair(source: source, caption: Int(split.caption[p]), image: Int(split.image[p]), label: 1))
        }
        guard !pairs.isEmpty else { throw MetaSetError("the meta set is empty") }
        let negatives = pairs.count
        guard trainCaptions >= negatives, trainImages >= 2 else {
            throw MetaSetError("\(negatives) meta negatives need as many training captions (have \(trainCaptions)) and two images")
        }
        var g = SeededGenerator(seed: seed, stream: "meta-negatives-\(round)")
        let captions = g.sample(negatives, from: trainCaptions)
        for c in captions {
            let forbidden = referenceNegativeCheck ? c : c / captionsPerImage
            var image = g.below(trainImages)
            while image == forbidden { image = g.below(trainImages) }
            pairs.append(MetaPair(source: .train, caption: c, image: image, label: 0))
        }
        return MetaSet(pairs: pairs)
    }

    public var positives: [MetaPair] { pairs.filter { $0.label == 1 } }
    public var negatives: [MetaPair] { pairs.filter { $0.label == 0 } }

    /// Shuffled meta batches for one epoch; the trainer cycles through them.
    public func batches(size: Int, seed: UInt64, round: Int, net: String) -> [[MetaPair]] {
        batchIndices(size: size, seed: seed, round: round, net: net).map { $0.map { pairs[$0] } }
    }

    /// The meta batches of `batches` as positions in `pairs` (the shuffle depends on the count
    /// only, so shuffling the positions draws the same permutation as shuffling the pairs).
    public func batchIndices(size: Int, seed: UInt64, round: Int, net: String) -> [[Int]] {
        var order = Array(pairs.indices)
        var g = SeededGenerator(seed: seed, stream: "meta-batches-\(net)-\(round)")
        g.shuffle(&order)
        var out: [[Int]] = []
        var start = 0
        while start < order.count {
            let end = min(start + size, order.count)
            if end - start >= 2 { out.append(Array(order[start..<end])) }
            start = end
        }
        return out
    }
}

public struct MetaSetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
