import Engine
import Foundation
import VectorLibm

/// How the meta-gradient's second-order term `∇φ⟨∇θ L_train(θ, φ), u⟩` is computed.
public enum MetaGradientMethod: String, CaseIterable, Codable, Sendable {
    /// Forward-over-reverse, exact (the reference's autograd with create_graph gives the same).
    case exact
    /// Central difference of first-order gradients along u (`MetaStep.defaultScale`).
    case finiteDifference = "finite-difference"
}

/// The exact second-order term.
///
/// φ (the meta net) only sees θ through the similarity vectors: `L_train(θ, φ) = F(sv(θ), φ)`
/// with `F = loss ∘ sigmoid ∘ Linear ∘ ReLU ∘ Linear`. Hence
/// `⟨∇θ L, u⟩ = ⟨∇_sv F(sv, φ), ṡv⟩` where `ṡv = J_sv(θ)·u` does not depend on φ, and
/// `∇φ⟨∇θ L, u⟩ = ∇φ (d/dt) F(sv + t·ṡv, φ)|₀`:
/// 1. ṡv: one forward of the main net in tangent mode (θ̇ = u) — forward mode through the
///    encoders, self-attention and the op-by-op similarity module (`ReferenceSimilarity`),
///    with the look-ahead's dropout masks and batch statistics (training mode, buffers untouched),
///    for the pairs the loss touches (G below is zero elsewhere).
/// 2. `Ṡ = σ'(z)·w₂ᵀ(1[h > 0] ⊙ W₁ṡv)`, the scores' tangent, recorded as ops of φ on a small tape.
/// 3. The training loss is piecewise linear in the scores and its margin uses the detached
///    diagonal, so `d/dt loss = ⟨G, Ṡ⟩` with `G = ∂loss/∂S` constant (the hardest negatives and
///    active hinges of the look-ahead forward: the branch autograd takes); a reverse pass of
///    `⟨G, Ṡ⟩` gives the term. Kinks (ReLU, hinge) take the unperturbed forward's branch.
///
/// The fused kernel has no tangent rule; the tangent forward of the similarity module goes op
/// by op (`ReferenceSimilarity.pairBlock`), one caption at a time (see mscn-bench `meta-step`
/// for its cost against the central difference's two first-order passes).
extension MetaStep {
    static func exactSecondOrder(_ m: Model, batch: PairBatch, masks: [[Float]], u: [String: [Float]],
                                 scores: [Float]) -> [String: [Float]] {
        // 3 first: G = ∂loss/∂S at the look-ahead's scores. The hardest-negative loss touches at
        // most 3B of the B² pairs (each row's and column's hardest negative, the diagonal), and
        // only those need a tangent.
        let b = batch.captions.lengths.count
        let lt = Tape()
        let s = lt.leaf(scores, shape: [b, b], requiresGrad: true)
        lt.backward(Losses.train(lt, scores: s, margin: m.config.margin))
        let dLoss = lt.grad(s)
        var images = [[Int]](repeating: [], count: b)   // per caption j, the images i with G[i][j] ≠ 0
        for i in 0..<b { for j in 0..<b where dLoss[i * b + j] != 0 { images[j].append(i) } }
        // SAF's batch norm takes its statistics over all images of a caption: keep them all.
        if m.config.variant == .saf { for j in 0..<b where !images[j].isEmpty { images[j] = Array(0..<b) } }

        // 1. ṡv along θ̇ = u for those pairs.
        let g = NetGraph(config: m.config, net: m.net, meta: m.meta, buffers: m.buffers, training: true, updateStats: false,
                         netGrads: true, metaGrads: false, dropout: DropoutSource(replaying: masks), similarity: ReferenceSimilarity())
        g.tape.tangentMode = true
        for (name, v) in g.net { if let un = u[name] { g.tape.setTangent(v, un) } }
        let img = g.encodeImages(batch.images), cap = g.encodeCaptions(batch.captions)
        let (svValue, svTangent) = similarityTangents(g, images: img, captions: cap, lengths: batch.captions.lengths,
                                                      pairs: images, config: m.config)
        var seed: [Float] = []
        for j in 0..<b { for i in images[j] { seed.append(dLoss[i * b + j]) } }
        guard !seed.isEmpty else { return m.meta.names.reduce(into: [:]) { $0[$1] = [Float](repeating: 0, count: m.meta[$1]?.count ?? 0) } }
        let shape = [seed.count, m.config.simDim]

        // 2. Ṡ(φ) on a tape of φ, then ∇φ⟨G, Ṡ⟩.
        let t = Tape()
        var phi: [String: Var] = [:]
        for n in m.meta.names { if let p = m.meta[n] { phi[n] = t.leaf(p, requiresGrad: true) } }
        func p(_ n: String) -> Var {
            guard let v = phi[n] else { preconditionFailure("missing meta parameter \(n)") }
            return v
        }
        let x = t.leaf(svValue, shape: shape, requiresGrad: false), dx = t.leaf(svTangent, shape: shape, requiresGrad: false)
        let h = t.linear(x, p("first_hidden_layer.fc.weight"), p("first_hidden_layer.fc.bias"))
        let active = t.value(h).map { $0 > 0 ? Float(1) : 0 }
        let z = t.linear(t.relu(h), p("output_layer.weight"), p("output_layer.bias"))
        let dz = t.linear(t.mask(t.linear(dx, p("first_hidden_layer.fc.weight"), nil), active), p("output_layer.weight"), nil)
        let dScores = t.sigmoidTangent(z, dz)
        t.backward(dScores, seed: seed)
        return phi.mapValues { t.grad($0) }
    }

    /// Similarity vectors and their tangents of the pairs (`pairs[j]` = the images of caption
    /// j), caption-major, one caption at a time on a scratch tape (as `ReferenceSimilarity`'s
    /// inference), so memory holds one caption's activations instead of the batch's: the
    /// encoders' outputs and the similarity parameters enter as leaves carrying their tangents
    /// from `g`.
    static func similarityTangents(_ g: NetGraph, images: Var, captions: Var, lengths: [Int], pairs: [[Int]],
                                   config c: ModelConfig) -> ([Float], [Float]) {
        let t = g.tape
        let vg = g.visualGlobal(images), tg = g.textGlobal(captions, lengths: lengths)
        let d = c.embedDim
        func rows(_ v: Var, _ which: [Int]) -> ([Float], [Float]?) {
            let per = t.value(v).count / max(t.shape(v)[0], 1)
            let x = t.value(v), tx = t.tangent(of: v)
            var a: [Float] = [], ta: [Float]? = tx == nil ? nil : []
            for r in which {
                a += x[(r * per)..<((r + 1) * per)]
                if let tx { ta? += tx[(r * per)..<((r + 1) * per)] }
            }
            return (a, ta)
        }
        // Read-only from here on: the captions are independent (their scratch tapes take the shared
        // values as leaves, and the batch norm's buffers are not updated), so the two halves run
        // at once and are joined in caption order, bit for bit the serial loop.
        let safBN = g.buffers["sim_enc.SAF_module.bn"]
        let simParams = g.net.filter { $0.key.hasPrefix("sim_enc.sim_tran") || $0.key.hasPrefix("sim_enc.SGR") || $0.key.hasPrefix("sim_enc.SAF") }
        func caption(_ j: Int, _ chosen: [Int]) -> (value: [Float], tangent: [Float]) {
            let u = Tape()
            u.tangentMode = true
            func leaf(_ x: ([Float], [Float]?), _ shape: [Int]) -> Var {
                let v = u.leaf(x.0, shape: shape, requiresGrad: true)
                if let tx = x.1 { u.setTangent(v, tx) }
                return v
            }
            let k = chosen.count, n = lengths[j]
            let imgs = leaf(rows(images, chosen), [k] + t.shape(images).dropFirst())
            let glo = leaf(rows(vg, chosen), [k, d])
            let capRow = rows(captions, [j])
            let cap = leaf((Array(capRow.0[0..<(n * d)]), capRow.1.map { Array($0[0..<(n * d)]) }), [n, d])
            let capGlo = leaf(rows(tg, [j]), [1, d])
            var q: [String: Var] = [:]
            for (name, v) in simParams { q[name] = leaf((t.value(v), t.tangent(of: v)), t.shape(v)) }
            var bn = safBN
            let block = ReferenceSimilarity().pairBlock(u, imgs: imgs, imgGlo: glo, cap: cap, capGlo: capGlo, k: k, n: n, p: q, c: c,
                                                        safBN: &bn, training: true, updateStats: false)
            let blockValue = u.value(block)
            return (blockValue, u.tangent(of: block) ?? [Float](repeating: 0, count: blockValue.count))
        }
        func blocks(_ range: Range<Int>) -> (value: [Float], tangent: [Float]) {
            var value: [Float] = [], tangent: [Float] = []
            for j in range where !pairs[j].isEmpty {
                let r = caption(j, pairs[j])
                value += r.value
                tangent += r.tangent
            }
            return (value, tangent)
        }
        // Halves of about equal work (pairs × words).
        let work = pairs.indices.map { pairs[$0].count * lengths[$0] }
        let total = work.reduce(0, +)
        var split = 0, done = 0
        while split < pairs.count && 2 * (done + work[split]) <= total { done += work[split]; split += 1 }
        let (first, second) = ParallelRows.both({ blocks(0..<split) }, { blocks(split..<pairs.count) })
        return (first.value + second.value, first.tangent + second.tangent)
    }
}

extension Tape {
    /// `σ'(z)·ż = y(1−y)·ż` (y = σ(z)), differentiable in both z and ż.
    func sigmoidTangent(_ z: Var, _ dz: Var) -> Var {
        let y = values[z.id].map(Sigmoid.value)
        let dzv = values[dz.id]
        let out = (0..<y.count).map { y[$0] * (1 - y[$0]) * dzv[$0] }
        return record(out, shape: shape(z), requiresGrad: anyNeedsGrad([z, dz])) { t, g in
            // d/dz [y(1−y)] = y(1−y)(1−2y)
            t.accumulate(z, (0..<y.count).map { g[$0] * dzv[$0] * y[$0] * (1 - y[$0]) * (1 - 2 * y[$0]) })
            t.accumulate(dz, (0..<y.count).map { g[$0] * y[$0] * (1 - y[$0]) })
        }
    }
}

extension Model {
    /// The meta-gradient of one training step (look-ahead, meta loss, second-order term) without
    /// applying anything: for benchmarks and for measuring the second-order term's share. Draws
    /// from the dropout stream like a training step.
    public func metaGradient(_ batch: PairBatch, meta z: MetaBatch, pseudoLR: Float) -> StepReport {
        var report = StepReport()
        _ = MetaStep.metaGradient(self, batch: batch, meta: z, pseudoLR: pseudoLR, report: &report)
        return report
    }
}
