/// Region features of a batch of images: `[count, regions, dim]` row-major.
public struct ImageBatch: Sendable {
    public var features: [Float]
    public var count: Int
    public var regions: Int
    public var dim: Int

    public init(features: [Float], count: Int, regions: Int, dim: Int) {
        precondition(features.count == count * regions * dim, "image batch: \(features.count) values for [\(count), \(regions), \(dim)]")
        self.features = features
        self.count = count
        self.regions = regions
        self.dim = dim
    }

    /// Images `range` of this batch.
    public func slice(_ range: Range<Int>) -> ImageBatch {
        let s = regions * dim
        return ImageBatch(features: Array(features[(range.lowerBound * s)..<(range.upperBound * s)]),
                          count: range.count, regions: regions, dim: dim)
    }
}

/// Token ids of a batch of captions (each with `<start>` … `<end>`), padded on use.
public struct CaptionBatch: Sendable {
    public var tokens: [[Int32]]

    public init(tokens: [[Int32]]) {
        precondition(tokens.allSatisfy { !$0.isEmpty }, "empty caption in batch")
        self.tokens = tokens
    }

    public var count: Int { tokens.count }

    /// The first problem that would make these captions unusable by a model with `vocabSize`
    /// words (empty caption, id outside the vocabulary), or nil. Check data from files with it
    /// before building batches: the model treats bad ids as a programming error.
    public static func problem(in tokens: [[Int32]], vocabSize: Int) -> String? {
        for (i, t) in tokens.enumerated() {
            if t.isEmpty { return "caption \(i) is empty" }
            if let bad = t.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
                return "caption \(i) has token id \(bad) outside the vocabulary of \(vocabSize)"
            }
        }
        return nil
    }
    public var lengths: [Int] { tokens.map(\.count) }
    public var maxLength: Int { tokens.map(\.count).max() ?? 0 }

    /// Row-major `[count, maxLength]` ids, zero-padded.
    public var padded: [Int] {
        let l = maxLength
        var r = [Int](repeating: 0, count: count * l)
        for (i, t) in tokens.enumerated() { for (j, id) in t.enumerated() { r[i * l + j] = Int(id) } }
        return r
    }
}

/// A training batch: image i is paired with caption i.
public struct PairBatch: Sendable {
    public var images: ImageBatch
    public var captions: CaptionBatch

    public init(images: ImageBatch, captions: CaptionBatch) {
        precondition(images.count == captions.count, "pair batch: \(images.count) images, \(captions.count) captions")
        self.images = images
        self.captions = captions
    }
}

/// A meta batch: pairs with clean (1) / mismatched (0) labels.
public struct MetaBatch: Sendable {
    public var pairs: PairBatch
    public var labels: [Float]

    public init(pairs: PairBatch, labels: [Float]) {
        precondition(labels.count == pairs.images.count, "meta batch labels")
        self.pairs = pairs
        self.labels = labels
    }
}
