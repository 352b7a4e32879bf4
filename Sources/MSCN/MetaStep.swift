import Engine
import Foundation

/// The meta-gradient of SPEC §6 step 3.
///
/// `∇φ L_meta = ∂φ L_meta(θ', φ) − lr · ∇φ⟨∇θ L_train(θ, φ), u⟩`, `u = ∂θ' L_meta`. The
/// mixed second-order term is a central difference of first-order gradients along u:
/// `∇φ⟨∇θ L, u⟩ ≈ [∇φ L(θ + εu) − ∇φ L(θ − εu)] / (2ε)`, exact up to O(ε²). Both evaluations
/// replay the look-ahead forward's dropout masks and leave the batch-norm buffers untouched.
public enum MetaStep {
    /// ε = scale · ‖θ‖/‖u‖: the perturbation moves θ by `scale` of its own norm. Two errors
    /// pull in opposite directions. Rounding: Float32 gradients carry ~1e-7 relative noise,
    /// which the difference divides by 2ε, so a tiny ε amplifies it (scale 1e-6 already costs
    /// ~2e-3 on the SAF golden). Non-smoothness: the hinge's hardest negative, ReLU and the
    /// clamp are kinks; a step that crosses one makes the difference meaningless (scale 1e-3
    /// gives 100% error on both goldens, 1e-4 3%). Measured on the golden dumps (SGR, SAF):
    /// second-order error 5e-5/5e-4 at 3e-5, 3e-6/2e-4 at 1e-5, 1e-5/7e-4 at 3e-6, so 1e-5
    /// sits in the middle of the flat region (`testFiniteDifferenceScaleIsStable`).
    public static let defaultScale: Float = 1e-5

    static func metaGradient(_ m: Model, batch: PairBatch, meta z: MetaBatch, pseudoLR lr: Float,
                             report: inout StepReport) -> [String: [Float]] {
        let opts = m.config.meta
        // 1. Look-ahead: θ' = θ − lr·∇θ L_train (its dropout masks are kept for the differences).
        let d = m.freshDropout()
        let g = m.graph(training: true, updateStats: false, netGrads: true, metaGrads: false, dropout: d)
        m.commit(d)
        let lossVar = g.tape.sum(Losses.train(g.tape, scores: m.allScores(g, batch), margin: m.config.margin))
        g.tape.backward(lossVar)
        report.pseudoLoss = g.tape.value(lossVar)[0]
        var grad = g.netGrads()
        if opts.freezeGRUInLookahead { for n in ParameterLayout.gruNames { grad[n] = nil } }
        if opts.clipPseudoGradient { clipGradNorm(&grad, maxNorm: m.config.gradClip) }
        let precond = opts.adamPseudoStep ? adamPreconditioner(m) : [:]
        for (n, p) in precond { if let gr = grad[n] { grad[n] = zip(gr, p).map { $0 * $1 } } }
        let pseudo = m.net.adding(grad, scaledBy: -lr)
        report.pseudoParams = pseudo
        let masks = d.recorded

        // 2. Meta loss through θ' (fresh masks; batch statistics of the meta batch).
        let dm = m.freshDropout()
        let gm = m.graph(net: pseudo, training: true, updateStats: false, netGrads: true, metaGrads: true, dropout: dm)
        m.commit(dm)
        let v = gm.encodeImages(z.pairs.images), e = gm.encodeCaptions(z.pairs.captions)
        let out = gm.scores(images: v, captions: e, lengths: z.pairs.captions.lengths, pairs: .diagonal)
        let metaLoss = Losses.bce(gm.tape, probabilities: out, labels: z.labels)
        gm.tape.backward(metaLoss)
        report.metaOut = gm.tape.value(out)
        report.metaLoss = gm.tape.value(metaLoss)[0]
        let direct = gm.metaGrads()
        report.metaGradDirect = direct
        var u = gm.netGrads()
        // θ' depends on φ only through the look-ahead gradient; frozen parts carry no path.
        if opts.freezeGRUInLookahead { for n in ParameterLayout.gruNames { u[n] = nil } }
        for (n, p) in precond { if let un = u[n] { u[n] = zip(un, p).map { $0 * $1 } } }

        // 3. Second-order term by central differences along u.
        var uNorm2 = 0.0
        for (_, x) in u { for a in x { uNorm2 += Double(a) * Double(a) } }
        var full = direct
        if uNorm2 > 0 {
            let eps = Float(Double(m.finiteDifferenceScale) * m.net.norm / uNorm2.squareRoot())
            let plus = metaGradOfTrainLoss(m, m.net.adding(u, scaledBy: eps), batch, masks)
            let minus = metaGradOfTrainLoss(m, m.net.adding(u, scaledBy: -eps), batch, masks)
            for (n, dv) in direct {
                guard let p = plus[n], let q = minus[n] else { continue }
                var r = dv
                for i in r.indices { r[i] -= lr * (p[i] - q[i]) / (2 * eps) }
                full[n] = r
            }
        }
        report.metaGradFull = full
        return full
    }

    /// ∇φ L_train(θ, φ) with replayed dropout masks and untouched buffers.
    static func metaGradOfTrainLoss(_ m: Model, _ theta: NamedTensors, _ batch: PairBatch, _ masks: [[Float]]) -> [String: [Float]] {
        let g = m.graph(net: theta, training: true, updateStats: false, netGrads: false, metaGrads: true,
                        dropout: DropoutSource(replaying: masks))
        let loss = g.tape.sum(Losses.train(g.tape, scores: m.allScores(g, batch), margin: m.config.margin))
        g.tape.backward(loss)
        return g.metaGrads()
    }

    /// Quirk 2 corrected: Adam's per-coordinate step scale `1/(sqrt(v̂)+eps)` from the main
    /// optimiser's current moments (empty before its first step: plain SGD).
    static func adamPreconditioner(_ m: Model) -> [String: [Float]] {
        var r: [String: [Float]] = [:]
        let a = m.netAdam
        for (n, v) in a.v {
            let t = Double(a.steps[n] ?? 0)
            guard t > 0 else { continue }
            let bc2 = Float((1 - pow(Double(a.beta2), t)).squareRoot())
            r[n] = v.map { 1 / ($0.squareRoot() / bc2 + a.eps) }
        }
        return r
    }
}
