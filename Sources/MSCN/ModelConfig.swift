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

    /// What makes this configuration unusable (sizes below 1, options out of range), one phrase
    /// each in the reference's option names; empty when it can build a model. Checked wherever a
    /// configuration comes from outside (options, checkpoint metadata, parity manifests), so a bad
    /// one is an error naming its source rather than a trap inside the engine.
    public var problems: [Problem] {
        var p: [Problem] = []
        for (name, v) in [("img_dim", imageDim), ("regions", regions), ("embed_size", embedDim), ("word_dim", wordDim),
                          ("sim_dim", simDim), ("meta_hidden", metaHidden), ("vocab_size", vocabSize)] where v < 1 {
            p.append(Problem(option: name, detail: "\(v) (must be at least 1)"))
        }
        if variant == .sgr && sgrSteps < 1 { p.append(Problem(option: "sgr_step", detail: "\(sgrSteps) (SGR needs at least 1)")) }
        if !(dropout >= 0 && dropout < 1) { p.append(Problem(option: "dropout", detail: "\(dropout) (must be in [0, 1))")) }
        if !(margin.isFinite && margin >= 0) { p.append(Problem(option: "margin", detail: "\(margin) (must be finite and at least 0)")) }
        if !(gradClip.isFinite && gradClip > 0) { p.append(Problem(option: "grad_clip", detail: "\(gradClip) (must be finite and positive)")) }
        if !(bnMomentum >= 0 && bnMomentum <= 1) { p.append(Problem(option: "bn_momentum", detail: "\(bnMomentum) (must be in [0, 1])")) }
        if !(bnEps.isFinite && bnEps > 0) { p.append(Problem(option: "bn_eps", detail: "\(bnEps) (must be finite and positive)")) }
        return p
    }

    /// One reason a configuration cannot build a model: the reference's option name and what is
    /// wrong with its value (`embed_size 0 (must be at least 1)`).
    public struct Problem: CustomStringConvertible, Sendable {
        public var option: String
        public var detail: String
        public var description: String { "\(option) \(detail)" }
    }

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
