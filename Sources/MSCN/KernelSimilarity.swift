import Engine
import SimilarityKernels

/// The fused all-pairs similarity kernel (module SimilarityKernels) as one op on the tape.
///
/// Forward hands the encoders' outputs and the similarity parameters to the kernel; backward
/// feeds the tape's gradient of the similarity vectors to the kernel's backward and adds its
/// input and parameter gradients to the tape.
public final class KernelSimilarity: SimilarityBackend {
    let kernel: SimilarityKernel

    public init(config c: ModelConfig) {
        kernel = SimilarityKernel(dim: c.embedDim, simDim: c.simDim,
                                  module: c.variant == .sgr ? .sgr(steps: c.sgrSteps) : .saf)
    }

    public func simVectors(tape t: Tape, images: Var, imageGlobal: Var, captions: Var, lengths: [Int], captionGlobal: Var,
                           params p: [String: Var], config c: ModelConfig, safBN: inout BatchNormBuffers?,
                           pairs: PairMode, training: Bool, updateStats: Bool) -> Var {
        func v(_ name: String) -> Var {
            guard let x = p[name] else { preconditionFailure("missing parameter \(name)") }
            return x
        }
        func linear(_ name: String) -> LinearParams {
            let w = t.shape(v(name + ".weight"))
            return LinearParams(weight: t.value(v(name + ".weight")), bias: t.value(v(name + ".bias")), outFeatures: w[0], inFeatures: w[1])
        }
        let steps = c.variant == .sgr ? c.sgrSteps : 0
        let sgrNames = (0..<steps).map { "sim_enc.SGR_module.\($0)." }
        var params = SimilarityParams(tranLoc: linear("sim_enc.sim_tranloc_w"), tranGlo: linear("sim_enc.sim_tranglo_w"),
                                      sgr: sgrNames.map { (linear($0 + "graph_query_w"), linear($0 + "graph_key_w"), linear($0 + "sim_graph_w")) })
        if c.variant == .saf {
            params.safAttn = linear("sim_enc.SAF_module.attn_sim_w")
            let b = safBN ?? BatchNormBuffers(channels: 1, momentum: c.bnMomentum, eps: c.bnEps)
            params.safBN = BatchNormState(weight: t.value(v("sim_enc.SAF_module.bn.weight")), bias: t.value(v("sim_enc.SAF_module.bn.bias")),
                                          runningMean: b.runningMean, runningVar: b.runningVar, numBatchesTracked: b.numBatchesTracked,
                                          momentum: b.momentum, eps: b.eps)
        }
        let shape = t.shape(images)
        let x = SimilarityInputs(images: t.value(images), imageGlobal: t.value(imageGlobal), captions: t.value(captions), lengths: lengths,
                                 captionGlobal: t.value(captionGlobal), imageCount: shape[0], captionCount: lengths.count,
                                 regions: shape[1], maxLength: t.shape(captions)[1], dim: shape[2])
        let ran = params
        let needs = t.anyNeedsGrad([images, imageGlobal, captions, captionGlobal] + Array(p.values))
        let (sim, kt) = kernel.forward(x, params: &params, pairs: pairs == .all ? .all : .diagonal, training: training, keepTape: needs)
        if updateStats, let s = params.safBN {
            var b = safBN ?? BatchNormBuffers(channels: 1, momentum: c.bnMomentum, eps: c.bnEps)
            b.runningMean = s.runningMean; b.runningVar = s.runningVar; b.numBatchesTracked = s.numBatchesTracked
            safBN = b
        }
        let pairCount = sim.count / c.simDim
        let kernel = self.kernel
        return t.record(sim, shape: [pairCount, c.simDim], requiresGrad: needs) { t, g in
            guard let kt else { return }
            let (ig, pg) = kernel.backward(kt, params: ran, dSimVectors: g)
            t.accumulate(images, ig.images)
            t.accumulate(imageGlobal, ig.imageGlobal)
            t.accumulate(captions, ig.captions)
            t.accumulate(captionGlobal, ig.captionGlobal)
            func add(_ name: String, _ l: LinearParams) {
                t.accumulate(v(name + ".weight"), l.weight)
                t.accumulate(v(name + ".bias"), l.bias)
            }
            add("sim_enc.sim_tranloc_w", pg.tranLoc)
            add("sim_enc.sim_tranglo_w", pg.tranGlo)
            for (name, l) in zip(sgrNames, pg.sgr) {
                add(name + "graph_query_w", l.query)
                add(name + "graph_key_w", l.key)
                add(name + "sim_graph_w", l.graph)
            }
            if let a = pg.safAttn { add("sim_enc.SAF_module.attn_sim_w", a) }
            if let w = pg.safBNWeight { t.accumulate(v("sim_enc.SAF_module.bn.weight"), w) }
            if let b = pg.safBNBias { t.accumulate(v("sim_enc.SAF_module.bn.bias"), b) }
        }
    }
}
