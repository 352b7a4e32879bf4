/// The similarity module on top of the encoders.
public enum SimilarityVariant: String, Codable, Sendable {
    /// Similarity graph reasoning (`sgrSteps` steps).
    case sgr
    /// Similarity attention filtration.
    case saf
}

/// How the look-ahead ("pseudo") step of the meta update is formed (SPEC §6, quirks 1, 2, 8).
public struct MetaStepOptions: Codable, Equatable, Sendable {
    /// Quirk 1: the reference never clips the pseudo gradient. `true` clips it to `gradClip`.
    public var clipPseudoGradient = false
    /// Quirk 2: the reference's pseudo step is plain SGD. `true` scales each coordinate by the
    /// main Adam optimiser's current preconditioner `1/(sqrt(v̂)+eps)` (held constant for the
    /// meta-gradient); with no Adam state yet it falls back to SGD.
    public var adamPseudoStep = false
    /// Quirk 8: PyTorch 2.x moves every main-net parameter in the look-ahead (default). `true`
    /// keeps the GRU at its current weights, as PyTorch 1.7 did.
    public var freezeGRUInLookahead = false

    public init() {}
}

/// Sizes and options of one net (main net + meta net), stored in checkpoint metadata.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var imageDim = 2048
    public var regions = 36
    public var embedDim = 1024
    public var wordDim = 300
    public var simDim = 256
    public var metaHidden = 64
    public var vocabSize = 10_000
    public var variant: SimilarityVariant = .sgr
    public var sgrSteps = 3
    /// Dropout of the text encoder and of VisualSA/TextSA (0.4 in the reference).
    public var dropout: Float = 0.4
    public var margin: Float = 0.2
    public var gradClip: Float = 2.0
    public var bnMomentum: Float = 0.1
    public var bnEps: Float = 1e-5
    public var meta = MetaStepOptions()

    public init() {}

    public init(imageDim: Int, embedDim: Int, wordDim: Int, simDim: Int, vocabSize: Int,
                variant: SimilarityVariant, metaHidden: Int = 64, regions: Int = 36) {
        self.imageDim = imageDim
        self.embedDim = embedDim
        self.wordDim = wordDim
        self.simDim = simDim
        self.vocabSize = vocabSize
        self.variant = variant
        self.metaHidden = metaHidden
        self.regions = regions
    }
}
