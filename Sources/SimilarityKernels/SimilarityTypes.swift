/// Which reasoning head turns a pair's alignment nodes into its similarity vector.
public enum SimilarityModule: Equatable {
    /// Similarity graph reasoning with `steps` rounds (the reference uses 3).
    case sgr(steps: Int)
    /// Similarity attention filtration.
    case saf
}

/// Which (image, caption) pairs a forward scores.
public enum PairSet: Equatable {
    /// Every image with every caption: `P = Bi·Bc`, pair `p = i·Bc + j`.
    case all
    /// Image `i` with caption `i` only (`Bi == Bc`): `P = B`.
    case diagonal
}

/// A linear layer in PyTorch layout: `weight` is `[out, in]` row-major and `y = x·Wᵀ + b`.
/// The same type carries gradients (same shapes) in `SimilarityGrads`.
public struct LinearParams {
    public var weight: [Float]
    public var bias: [Float]
    public var outFeatures: Int
    public var inFeatures: Int

    public init(weight: [Float], bias: [Float], outFeatures: Int, inFeatures: Int) {
        precondition(weight.count == outFeatures * inFeatures && bias.count == outFeatures,
                     "LinearParams: weight \(weight.count) / bias \(bias.count) do not fit [\(outFeatures), \(inFeatures)]")
        self.weight = weight
        self.bias = bias
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// All-zero layer (the shape of a gradient accumulator).
    public static func zeros(outFeatures: Int, inFeatures: Int) -> LinearParams {
        LinearParams(weight: [Float](repeating: 0, count: outFeatures * inFeatures),
                     bias: [Float](repeating: 0, count: outFeatures),
                     outFeatures: outFeatures, inFeatures: inFeatures)
    }
}

/// A batch norm's affine parameters and running statistics (PyTorch `BatchNorm1d` semantics).
public struct BatchNormState {
    public var weight: [Float]
    public var bias: [Float]
    public var runningMean: [Float]
    public var runningVar: [Float]
    public var numBatchesTracked: Int
    public var momentum: Float
    public var eps: Float

    public init(weight: [Float], bias: [Float], runningMean: [Float], runningVar: [Float],
                numBatchesTracked: Int = 0, momentum: Float = 0.1, eps: Float = 1e-5) {
        self.weight = weight
        self.bias = bias
        self.runningMean = runningMean
        self.runningVar = runningVar
        self.numBatchesTracked = numBatchesTracked
        self.momentum = momentum
        self.eps = eps
    }
}

/// The trainable parameters (and SAF's batch-norm buffers) of the similarity part of SGRAF.
public struct SimilarityParams {
    /// `sim_tranloc_w`, d→s.
    public var tranLoc: LinearParams
    /// `sim_tranglo_w`, d→s.
    public var tranGlo: LinearParams
    /// `SGR_module.{k}.{graph_query_w, graph_key_w, sim_graph_w}`, s→s each; empty for SAF.
    public var sgr: [(query: LinearParams, key: LinearParams, graph: LinearParams)]
    /// `SAF_module.attn_sim_w`, s→1; nil for SGR.
    public var safAttn: LinearParams?
    /// `SAF_module.bn` (one channel); nil for SGR.
    public var safBN: BatchNormState?

    public init(tranLoc: LinearParams, tranGlo: LinearParams,
                sgr: [(query: LinearParams, key: LinearParams, graph: LinearParams)] = [],
                safAttn: LinearParams? = nil, safBN: BatchNormState? = nil) {
        self.tranLoc = tranLoc
        self.tranGlo = tranGlo
        self.sgr = sgr
        self.safAttn = safAttn
        self.safBN = safBN
    }
}

/// Gradients of the trainable similarity parameters, shaped like `SimilarityParams`.
public struct SimilarityGrads {
    public var tranLoc: LinearParams
    public var tranGlo: LinearParams
    public var sgr: [(query: LinearParams, key: LinearParams, graph: LinearParams)]
    public var safAttn: LinearParams?
    /// Gradient of SAF's batch-norm `weight` (γ) and `bias` (β), one element each; nil for SGR.
    public var safBNWeight: [Float]?
    public var safBNBias: [Float]?
}

/// One forward's inputs, all Float32 row-major.
public struct SimilarityInputs {
    /// `[Bi, R, d]` region embeddings (l2-normalised by the image encoder).
    public var images: [Float]
    /// `[Bi, d]` global image vectors (VisualSA output).
    public var imageGlobal: [Float]
    /// `[Bc, Lmax, d]` word embeddings; rows past a caption's length are never read.
    public var captions: [Float]
    /// `[Bc]` true lengths, each in `1...maxLength`.
    public var lengths: [Int]
    /// `[Bc, d]` global caption vectors (TextSA output).
    public var captionGlobal: [Float]
    public var imageCount: Int
    public var captionCount: Int
    public var regions: Int
    public var maxLength: Int
    public var dim: Int

    public init(images: [Float], imageGlobal: [Float], captions: [Float], lengths: [Int],
                captionGlobal: [Float], imageCount: Int, captionCount: Int, regions: Int,
                maxLength: Int, dim: Int) {
        self.images = images
        self.imageGlobal = imageGlobal
        self.captions = captions
        self.lengths = lengths
        self.captionGlobal = captionGlobal
        self.imageCount = imageCount
        self.captionCount = captionCount
        self.regions = regions
        self.maxLength = maxLength
        self.dim = dim
    }

    /// Shape problems as one line each (empty when the inputs are consistent).
    public func shapeProblems() -> [String] {
        var out: [String] = []
        if imageCount < 1 || captionCount < 1 || regions < 1 || maxLength < 1 || dim < 1 {
            out.append("sizes must be positive (images \(imageCount), captions \(captionCount), regions \(regions), maxLength \(maxLength), dim \(dim))")
            return out
        }
        if images.count != imageCount * regions * dim { out.append("images has \(images.count) values, expected \(imageCount)×\(regions)×\(dim)") }
        if imageGlobal.count != imageCount * dim { out.append("imageGlobal has \(imageGlobal.count) values, expected \(imageCount)×\(dim)") }
        if captions.count != captionCount * maxLength * dim { out.append("captions has \(captions.count) values, expected \(captionCount)×\(maxLength)×\(dim)") }
        if captionGlobal.count != captionCount * dim { out.append("captionGlobal has \(captionGlobal.count) values, expected \(captionCount)×\(dim)") }
        if lengths.count != captionCount { out.append("lengths has \(lengths.count) entries, expected \(captionCount)") }
        if let bad = lengths.first(where: { $0 < 1 || $0 > maxLength }) { out.append("caption length \(bad) outside 1...\(maxLength)") }
        return out
    }
}

/// Gradients with respect to the inputs, shaped like them; caption padding rows are zero.
public struct SimilarityInputGrads {
    public var images: [Float]
    public var imageGlobal: [Float]
    public var captions: [Float]
    public var captionGlobal: [Float]
}
