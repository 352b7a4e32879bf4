import Engine
import Foundation

/// The meta-gradient of SPEC §6 step 3.
///
/// `∇φ L_meta = ∂φ L_meta(θ', φ) − lr · ∇φ⟨∇θ L_train(θ, φ), u⟩`, `u = ∂θ' L_meta`. The
/// mixed second-order term is computed exactly by default (`MetaStep+Exact.swift`), or, with
/// `MetaGradientMethod.finiteDifference`, as a central difference of first-order gradients
/// along u: `∇φ⟨∇θ L, u⟩ ≈ [∇φ L(θ + εu) − ∇φ L(θ − εu)] / (2ε)`, exact up to O(ε²) away from
/// kinks. Both replay the look-ahead forward's dropout masks and leave the batch-norm buffers
/// untouched.
///
/// Options of the look-ahead and what the derivative does with them: a frozen GRU carries no
/// path (u is zero there); the clipped pseudo step (quirk 1 corrected) `θ' = θ − lr·c·g`,
/// `c = min(1, M/‖g‖)`, is differentiated through c as well: when it clips, u becomes
/// `c·(u − ĝ⟨ĝ, u⟩)` (ĝ = g/‖g‖); the Adam-preconditioned step (quirk 2 corrected) scales the
/// gradient by `1/(sqrt(v̂)+eps)` from the main optimiser's moments before this step, which do
/// not depend on φ, so u is scaled by the same factor and the term stays exact.
public enum MetaStep {
    /// ε = scale · ‖θ‖/‖u‖: the perturbation moves θ by `scale` of its own norm. Two errors
    /// pull in opposite directions. Rounding: Float32 gradients carry ~1e-7 relative noise,
    /// which the difference divides by 2ε, so a tiny ε amplifies it (scale 1e-6 already costs
    /// ~2e-3 on the SAF golden). Non-smoothness: the hinge's hardest negative, ReLU and the
    /// clamp are kinks; a step that crosses one makes the difference meaningless (scale 1e-3
    /// gives 100% error on both goldens, 1e-4 3%). Measured on the golden dumps (SGR, SAF):
    /// second-order error 5e-5/5e-4 at 3e-5, 3e-6/2e-4 at 1e-5, 1e-5/7e-4 at 3e-6, so 1e-5
    /// sits in the middle of the flat region (`testFiniteDifferenceScaleIsStable`).
    /// At a realistic size (d = 256, batch 64, lr 2e-4, dropout 0.4) the second-order term is
    /// only ~1% of the meta-gradient and this estimate is not resolved: it shrinks steadily
    /// from 6e-4 to 5e-6 as the scale grows from 3e-6 to 3e-3 (the full gradient moves by
    /// < 0.3%). The exact method (the default) has no such step.
    public static let defaultScale: Float = 1e-5

    static func metaGradient(_ m: Model, batch: PairBatch, meta z: MetaBatch, pseudoLR lr: Float,
                             report: inout StepReport) -> [String: [Float]] {
        let opts = m.config.meta
        // 1. Look-ahead: θ' = θ − lr·∇θ L_train (its dropout masks are kept for the differences).
        let d = m.freshDropout()
        let g = m.graph(training: true, updateStats: false, netGrads: true, metaGrads: false, dropout: d)
        let scoresVar = m.allScores(g, batch)
        let lossVar = g.tape.sum(Losses.train(g.tape, scores: scoresVar, margin: m.config.margin))
        m.commit(d)
        g.tape.backward(lossVar)
        report.pseudoLoss = g.tape.value(lossVar)[0]
        let scores = g.tape.value(scoresVar)
        var grad = g.netGrads()
        if opts.freezeGRUInLookahead { for n in ParameterLayout.gruNames { grad[n] = nil } }
        let unclipped = grad
        if opts.clipPseudoGradient { clipGradNorm(&grad, maxNorm: m.config.gradClip) }
        let precond = opts.adamPseudoStep ? adamPreconditioner(m) : [:]
        for (n, p) in precond { if let gr = grad[n] { grad[n] = zip(gr, p).map { $0 * $1 } } }
        let pseudo = m.net.adding(grad, scaledBy: -lr)
        report.pseudoParams = pseudo
        let masks = d.recorded

        // 2. Meta loss through θ' (fresh masks; batch statistics of the meta batch).
        let dm = m.freshDropout()
        let gm = m.graph(net: pseudo, training: true, updateStats: false, netGrads: true, metaGrads: true, dropout: dm)
        let v = gm.encodeImages(z.pairs.images), e = gm.encodeCaptions(z.pairs.captions)
        let out = gm.scores(images: v, captions: e, lengths: z.pairs.captions.lengths, pairs: .diagonal)
        m.commit(dm)
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
        if opts.clipPseudoGradient { u = clipTangent(u, gradient: unclipped, maxNorm: m.config.gradClip) }

        // 3. Second-order term.
        var full = direct
        if m.metaGradientMethod == .exact {
            let second = exactSecondOrder(m, batch: batch, masks: masks, u: u, scores: scores)
            for (n, dv) in direct {
                guard let s = second[n] else { continue }
                full[n] = zip(dv, s).map { $0 - lr * $1 }
            }
            report.metaGradFull = full
            return full
        }
        var uNorm2 = 0.0
        for (_, x) in u { for a in x { uNorm2 += Double(a) * Double(a) } }
        let eps = Float(Double(m.finiteDifferenceScale) * m.net.norm / max(uNorm2.squareRoot(), .leastNormalMagnitude))
        if uNorm2 > 0, eps > 0, eps.isFinite {
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

    /// u pulled back through the clip `g ↦ c·g`, `c = M/‖g‖` when ‖g‖ > M: its Jacobian
    /// `c(I − ĝĝᵀ)` is symmetric, so u becomes `c·(u − ĝ⟨ĝ, u⟩)`; unchanged when nothing is clipped.
    static func clipTangent(_ u: [String: [Float]], gradient g: [String: [Float]], maxNorm: Float) -> [String: [Float]] {
        var n2 = 0.0, dot = 0.0
        for (n, x) in g { for (i, a) in x.enumerated() { n2 += Double(a) * Double(a); dot += Double(a) * Double(u[n]?[i] ?? 0) } }
        let norm = n2.squareRoot()
        guard norm > Double(maxNorm) else { return u }
        let c = Double(maxNorm) / norm, k = dot / n2
        var r = u
        for (n, x) in u {
            let gn = g[n] ?? []
            r[n] = x.indices.map { Float(c * (Double(x[$0]) - k * Double(gn.isEmpty ? 0 : gn[$0]))) }
        }
        return r
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
