import Engine
import MSCNRandom

/// One MSCN net: the main net θ (encoders, self-attention, similarity module), its meta
/// similarity net φ, their batch-norm buffers, Adam states and dropout generator.
public final class Model {
    public let config: ModelConfig
    /// Main-net parameters by reference name (`img_enc.fc.weight`, …).
    public var net: NamedTensors
    /// Meta-net parameters by reference name (`first_hidden_layer.fc.weight`, …).
    public var meta: NamedTensors
    /// Batch-norm running statistics by module path (`sim_enc.v_global_w.embedding_local.1`, …).
    public var buffers: [String: BatchNormBuffers]
    public var netAdam = Adam()
    public var metaAdam = Adam()
    /// Draws every dropout mask; stored in checkpoints so training resumes bit-identically.
    public var dropoutGenerator: SeededGenerator
    /// Computes similarity vectors; the op-by-op reference until a fused kernel is plugged in.
    public var similarity: SimilarityBackend
    /// Finite-difference step of the meta-gradient's second-order term, relative to ‖θ‖/‖u‖
    /// (see `MetaStep`).
    public var finiteDifferenceScale: Float = MetaStep.defaultScale
    /// How the meta-gradient's second-order term is computed (exact by default).
    public var metaGradientMethod: MetaGradientMethod = .exact
    /// Training-mode diagonal scores (the meta net's outputs for the batch's own pairs) of the
    /// last main update: the step log's mean score and mean self-adaptive margin come from them.
    public private(set) var lastDiagonal: [Float] = []

    /// A freshly initialised net; `seed` fixes every initial value and the dropout stream.
    public init(config: ModelConfig, seed: UInt64, similarity: SimilarityBackend? = nil) {
        self.config = config
        var g = SeededGenerator(seed: seed, stream: "init/net")
        net = ParameterLayout.initialNet(config, using: &g)
        var gm = SeededGenerator(seed: seed, stream: "init/meta")
        meta = ParameterLayout.initialMeta(config, using: &gm)
        buffers = ParameterLayout.initialBuffers(config)
        dropoutGenerator = SeededGenerator(seed: seed, stream: "dropout")
        self.similarity = similarity ?? SimilarityBackends.standard(config)
    }

    /// A net with given parameters (e.g. loaded from a checkpoint or a reference dump).
    public init(config: ModelConfig, net: NamedTensors, meta: NamedTensors, buffers: [String: BatchNormBuffers],
                dropoutGenerator: SeededGenerator, similarity: SimilarityBackend? = nil) {
        self.config = config
        self.net = net
        self.meta = meta
        self.buffers = buffers
        self.dropoutGenerator = dropoutGenerator
        self.similarity = similarity ?? SimilarityBackends.standard(config)
    }

    func graph(net n: NamedTensors? = nil, meta m: NamedTensors? = nil, training: Bool, updateStats: Bool,
               netGrads: Bool, metaGrads: Bool, dropout: DropoutSource?) -> NetGraph {
        NetGraph(config: config, net: n ?? net, meta: m ?? meta, buffers: buffers, training: training,
                 updateStats: updateStats, netGrads: netGrads, metaGrads: metaGrads, dropout: dropout, similarity: similarity)
    }

    /// A dropout source continuing this model's stream. Call `commit` after the forward that
    /// drew from it, so the next forward continues where this one stopped.
    func freshDropout() -> DropoutSource { DropoutSource(generator: dropoutGenerator) }
    func commit(_ d: DropoutSource) { dropoutGenerator = d.generator }

    // MARK: Training

    /// Fresh Adam states for both nets (the reference re-creates its optimisers once, after
    /// the warm-up).
    public func resetOptimizers() {
        netAdam = Adam()
        metaAdam = Adam()
    }

    /// One warm-up step: warm-up loss on all pairs of the batch, gradients into θ and φ,
    /// each net's gradient clipped to `gradClip` on its own, Adam on both at `lr`. Returns the loss.
    /// Batches need at least two pairs (batch norm over the batch); the reference ends the
    /// epoch at a batch of one, so callers drop it.
    @discardableResult
    public func warmupStep(_ batch: PairBatch, lr: Float) -> Float {
        precondition(batch.images.count >= 2, "warmupStep: a batch needs at least 2 pairs (drop a final batch of 1)")
        return jointStep(batch, lr: lr, objective: .warmup)
    }

    /// One step of the standard backbone training (the paper's SGRAF and SGR-C rows): hardest
    /// negatives with the fixed margin, no meta step. The scorer head φ is part of this net's
    /// similarity, so it is trained by the same loss, as in the warm-up.
    @discardableResult
    public func standardStep(_ batch: PairBatch, lr: Float) -> Float {
        precondition(batch.images.count >= 2, "standardStep: a batch needs at least 2 pairs (drop a final batch of 1)")
        return jointStep(batch, lr: lr, objective: .hardestFixed)
    }

    /// `objective` into θ and φ together, each clipped on its own, Adam on both at `lr`.
    func jointStep(_ batch: PairBatch, lr: Float, objective: MainLoss) -> Float {
        let d = freshDropout()
        let g = graph(training: true, updateStats: true, netGrads: true, metaGrads: true, dropout: d)
        let loss = g.tape.sum(objective.loss(g.tape, scores: allScores(g, batch), margin: config.margin))
        commit(d)
        g.tape.backward(loss)
        buffers = g.buffers
        // The reference clips the two nets separately (one clip_grad_norm_ call each).
        var grads = g.netGrads(), metaGrads = g.metaGrads()
        clipGradNorm(&grads, maxNorm: config.gradClip)
        clipGradNorm(&metaGrads, maxNorm: config.gradClip)
        for name in net.names { applyAdam(&netAdam, &net, name, grads[name], lr) }
        for name in meta.names { applyAdam(&metaAdam, &meta, name, metaGrads[name], lr) }
        return g.tape.value(loss)[0]
    }

    func applyAdam(_ opt: inout Adam, _ params: inout NamedTensors, _ name: String, _ grad: [Float]?, _ lr: Float) {
        guard let grad, var p = params[name]?.data else { return }
        opt.step(name, param: &p, grad: grad, lr: lr)
        params.setData(name, p)
    }

    func allScores(_ g: NetGraph, _ b: PairBatch) -> Var {
        let v = g.encodeImages(b.images), e = g.encodeCaptions(b.captions)
        return g.scores(images: v, captions: e, lengths: b.captions.lengths, pairs: .all)
    }

    /// One MSCN training step (SPEC §6): meta update of φ through a look-ahead of θ, then the
    /// main update of θ with φ frozen. `pseudoLR` defaults to `lr` (the reference's choice).
    public func trainStep(_ batch: PairBatch, meta metaBatch: MetaBatch, lr: Float, metaLR: Float,
                          pseudoLR: Float? = nil) -> (loss: Float, metaLoss: Float) {
        var report = StepReport()
        trainStep(batch, meta: metaBatch, lr: lr, metaLR: metaLR, pseudoLR: pseudoLR ?? lr, report: &report)
        return (report.mainLoss, report.metaLoss)
    }

    /// The training step with every intermediate kept in `report` (for parity checks).
    public func trainStep(_ batch: PairBatch, meta metaBatch: MetaBatch, lr: Float, metaLR: Float, pseudoLR: Float,
                          report: inout StepReport) {
        precondition(batch.images.count >= 2 && metaBatch.labels.count >= 2,
                     "trainStep: batches need at least 2 pairs (drop a final batch of 1)")
        let metaGrad = MetaStep.metaGradient(self, batch: batch, meta: metaBatch, pseudoLR: pseudoLR, report: &report)
        for name in meta.names { applyAdam(&metaAdam, &meta, name, metaGrad[name], metaLR) }
        report.metaAfter = meta

        let (loss, grad) = mainUpdate(batch, lr: lr)
        report.mainLoss = loss
        report.mainGrad = grad
    }

    /// The loss a main-net update minimises.
    enum MainLoss {
        /// Max violation with the self-adaptive margin (MSCN rounds).
        case train
        /// Sum of means (the warm-up, and the uncorrected baseline after it).
        case warmup
        /// Max violation with the fixed margin (standard training).
        case hardestFixed

        func loss(_ t: Tape, scores: Var, margin: Float) -> Var {
            switch self {
            case .train: return Losses.train(t, scores: scores, margin: margin)
            case .warmup: return Losses.warmup(t, scores: scores, margin: margin)
            case .hardestFixed: return Losses.hardestNegative(t, scores: scores, margin: margin)
            }
        }
    }

    /// `objective` with φ frozen, then clip and Adam on θ. Returns the loss and the
    /// gradient before clipping.
    func mainUpdate(_ batch: PairBatch, lr: Float, objective: MainLoss = .train) -> (loss: Float, grad: [String: [Float]]) {
        let d = freshDropout()
        let g = graph(training: true, updateStats: true, netGrads: true, metaGrads: false, dropout: d)
        let scores = allScores(g, batch)
        let loss = g.tape.sum(objective.loss(g.tape, scores: scores, margin: config.margin))
        let s = g.tape.value(scores), b = batch.captions.lengths.count
        lastDiagonal = (0..<b).map { s[$0 * b + $0] }
        commit(d)
        g.tape.backward(loss)
        buffers = g.buffers
        let raw = g.netGrads()
        var grads = raw
        clipGradNorm(&grads, maxNorm: config.gradClip)
        for name in net.names { applyAdam(&netAdam, &net, name, grads[name], lr) }
        return (g.tape.value(loss)[0], raw)
    }

    // MARK: Inference (eval mode: running statistics, no dropout)

    /// Region embeddings `[B, R, d]`.
    public func encodeImages(_ x: ImageBatch) -> Tensor {
        let g = graph(training: false, updateStats: false, netGrads: false, metaGrads: false, dropout: nil)
        return g.tape.tensor(g.encodeImages(x))
    }

    /// Word embeddings `[B, Lmax, d]` (padding rows zero).
    public func encodeCaptions(_ c: CaptionBatch) -> Tensor {
        let g = graph(training: false, updateStats: false, netGrads: false, metaGrads: false, dropout: nil)
        return g.tape.tensor(g.encodeCaptions(c))
    }

    /// Scores `[Bi, Bc]` of every encoded image with every encoded caption (one shard).
    public func scores(images: Tensor, captions: Tensor, lengths: [Int]) -> Tensor {
        evalScores(images: images, captions: captions, lengths: lengths, pairs: .all)
    }

    /// Scores `[B]` of image i with caption i (purification).
    public func diagonalScores(images: Tensor, captions: Tensor, lengths: [Int]) -> [Float] {
        evalScores(images: images, captions: captions, lengths: lengths, pairs: .diagonal).data
    }

    func evalScores(images: Tensor, captions: Tensor, lengths: [Int], pairs: PairMode) -> Tensor {
        let g = graph(training: false, updateStats: false, netGrads: false, metaGrads: false, dropout: nil)
        let v = g.tape.leaf(images, requiresGrad: false), e = g.tape.leaf(captions, requiresGrad: false)
        return g.tape.tensor(g.scores(images: v, captions: e, lengths: lengths, pairs: pairs))
    }
}

/// Intermediate values of one training step.
public struct StepReport {
    public var pseudoLoss: Float = 0
    public var pseudoParams = NamedTensors()
    public var metaOut: [Float] = []
    public var metaLoss: Float = 0
    public var metaGradDirect: [String: [Float]] = [:]
    public var metaGradFull: [String: [Float]] = [:]
    public var metaAfter = NamedTensors()
    public var mainLoss: Float = 0
    public var mainGrad: [String: [Float]] = [:]
    public init() {}
}
