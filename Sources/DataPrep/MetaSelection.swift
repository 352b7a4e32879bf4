import Artefacts
import MSCNRandom

/// Where the meta (small clean) set comes from (SPEC §3).
public enum MetaRule: String, CaseIterable, Sendable {
    /// Flickr30K layout: a fraction of the training caption count, drawn from the dev captions.
    case flickr
    /// COCO layout: every dev pair plus one caption of each of some training images, whose
    /// captions then leave the training set.
    case coco
    /// The corpus's own `meta` split, every pair of it.
    case given
}

/// Parameters of `MetaSelection.select`.
public struct MetaSelectionOptions: Sendable {
    public var rule: MetaRule
    public var seed: UInt64
    /// Flickr rule: meta pairs = `floor(metaFraction · training captions)`.
    public var metaFraction: Double = 0.02
    /// COCO rule: training images moved into the meta set; `nil` = `defaultCocoTrainImages`.
    public var cocoTrainImages: Int?
    /// Remove the meta set's dev images from the images used to pick the best round.
    public var disjoint: Bool = false

    public init(rule: MetaRule, seed: UInt64, metaFraction: Double = 0.02, cocoTrainImages: Int? = nil, disjoint: Bool = false) {
        self.rule = rule
        self.seed = seed
        self.metaFraction = metaFraction
        self.cocoTrainImages = cocoTrainImages
        self.disjoint = disjoint
    }
}

/// The chosen meta set and what the user should hear about it.
public struct MetaSelection: Sendable {
    public var split: MetaSplit
    /// Notes for standard error (e.g. the dev overlap of SPEC quirk 7).
    public var warnings: [String]

    /// COCO's 6,328 of 113,287 training images, kept as that fraction (rounded) for other sizes.
    public static func defaultCocoTrainImages(trainImages: Int) -> Int {
        Int((6328.0 * Double(trainImages) / 113_287.0).rounded())
    }

    /// Source codes stored in `MetaSplit.source`.
    public static let fromTrain: UInt8 = 0, fromDev: UInt8 = 1, fromMeta: UInt8 = 2

    /// Chooses the meta set of `corpus` (splits `train`, `dev`, and `meta` for the given rule).
    ///
    /// Draws use `SeededGenerator(seed:, stream: "meta-split-<rule>")`. Meta pairs are listed in
    /// increasing caption order within each source (dev pairs before training pairs).
    /// `devSelect` marks the dev images used to choose the best round: all of them, or with
    /// `disjoint` all but the meta set's dev images.
    public static func select(corpus: Corpus, options o: MetaSelectionOptions, path: String = "corpus") throws -> MetaSelection {
        let train = try corpus.split("train", path: path)
        let dev = try corpus.split("dev", path: path)
        let k = train.captionsPerImage
        var g = SeededGenerator(seed: o.seed, stream: "meta-split-\(o.rule.rawValue)")
        var source: [UInt8] = [], caption: [Int64] = [], image: [Int64] = []
        var trainKeep = [UInt8](repeating: 1, count: train.captionCount)
        var devSelect = [UInt8](repeating: 1, count: dev.imageCount)
        var warnings: [String] = []

        switch o.rule {
        case .flickr:
            guard o.metaFraction > 0, o.metaFraction <= 1 else {
                throw DataPrepError("meta fraction \(o.metaFraction) is outside (0, 1]")
            }
            let n = NoiseInjection.noisyCount(ratio: o.metaFraction, of: train.captionCount)
            guard n > 0 else {
                throw DataPrepError("meta set is empty: fraction \(o.metaFraction) of \(train.captionCount) training captions")
            }
            guard n <= dev.captionCount else {
                throw DataPrepError("meta fraction \(o.metaFraction) too large: \(n) meta pairs but the dev split has only \(dev.captionCount) captions")
            }
            for c in g.sample(n, from: dev.captionCount).sorted() {
                source.append(fromDev)
                caption.append(Int64(c))
                image.append(Int64(c / k))
            }
        case .coco:
            let t = o.cocoTrainImages ?? defaultCocoTrainImages(trainImages: train.imageCount)
            guard t >= 0, t <= train.imageCount else {
                throw DataPrepError("\(t) COCO meta training images requested, the training split has \(train.imageCount)")
            }
            for c in 0..<dev.captionCount {
                source.append(fromDev)
                caption.append(Int64(c))
                image.append(Int64(c / k))
            }
            for i in g.sample(t, from: train.imageCount).sorted() {
                source.append(fromTrain)
                caption.append(Int64(i * k + g.below(k)))
                image.append(Int64(i))
                for j in (i * k)..<((i + 1) * k) { trainKeep[j] = 0 }
            }
        case .given:
            let meta = try corpus.split("meta", path: path)
            for c in 0..<meta.captionCount {
                source.append(fromMeta)
                caption.append(Int64(c))
                image.append(Int64(c / meta.captionsPerImage))
            }
        }
        guard !caption.isEmpty else { throw DataPrepError("meta set is empty") }

        let devImages = Set(zip(source, image).filter { $0.0 == fromDev }.map { Int($0.1) })
        if !devImages.isEmpty {
            if o.disjoint {
                for i in devImages { devSelect[i] = 0 }
                guard devSelect.contains(1) else {
                    throw DataPrepError("--disjoint leaves no dev image to choose the best round with (the meta set uses all \(dev.imageCount))")
                }
            } else {
                warnings.append("warning: the meta set uses \(devImages.count) of the \(dev.imageCount) dev images that also choose the best round (SPEC quirk 7); --disjoint removes them from model selection")
            }
        }
        return MetaSelection(split: MetaSplit(source: source, caption: caption, image: image,
                                              trainKeep: trainKeep, devSelect: devSelect),
                             warnings: warnings)
    }
}
