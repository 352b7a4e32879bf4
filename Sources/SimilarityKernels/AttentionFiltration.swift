/// SAF: `α = l1norm(sigmoid(BN_1(S·w + b)))` over a pair's L+1 nodes, `sim_vec = l2norm(αᵀ S)`.
/// The batch norm's statistics (training) span all pairs of a caption, so the forward is cut
/// in two: logits for every group, statistics per caption, then the gated sums.

/// Normalisation each caption's logits use: batch statistics (training) or running ones (eval).
struct FiltrationStats {
    var mean: [Float]
    var invStd: [Float]
    /// Number of logits each caption's batch statistics span (training only).
    var count: [Int]
    var training: Bool
}

func filtrationLogits(_ g: PairGroup, _ p: PackedParams, _ st: GroupState, simDim s: Int) {
    guard let attn = p.attn else { return }
    let S = st.nodes[0].p, b = attn.b.p[0]
    for r in 0..<g.nodes { st.z.p[r] = unsafeDot(S + r * s, attn.w.p, s) + b }
}

/// Per caption (in order): the mean and biased variance of its logits over all its pairs.
func filtrationBatchStats(_ layout: PairLayout, _ states: [GroupState], eps: Float) -> (stats: FiltrationStats, unbiasedVar: [Double], mean: [Double]) {
    let C = layout.captionCount
    var sum = [Double](repeating: 0, count: C), count = [Int](repeating: 0, count: C)
    for (g, st) in zip(layout.groups, states) {
        for c in g.captionLo..<g.captionHi {
            let L = layout.lengths[c], lw = layout.localWord(g, c), j = c - g.captionLo
            for k in 0...L { sum[c] += Double(st.z.p[nodeRow(k, words: g.words, slot: j, localWord: lw)]) }
            count[c] += L + 1
        }
    }
    let mean = (0..<C).map { count[$0] > 0 ? sum[$0] / Double(count[$0]) : 0 }
    var sq = [Double](repeating: 0, count: C)
    for (g, st) in zip(layout.groups, states) {
        for c in g.captionLo..<g.captionHi {
            let L = layout.lengths[c], lw = layout.localWord(g, c), j = c - g.captionLo
            for k in 0...L {
                let dz = Double(st.z.p[nodeRow(k, words: g.words, slot: j, localWord: lw)]) - mean[c]
                sq[c] += dz * dz
            }
        }
    }
    var stats = FiltrationStats(mean: [], invStd: [], count: count, training: true)
    var unbiased: [Double] = []
    for c in 0..<C {
        let n = Double(max(count[c], 1))
        let biased = sq[c] / n
        stats.mean.append(Float(mean[c]))
        stats.invStd.append(Float(1 / (biased + Double(eps)).squareRoot()))
        unbiased.append(count[c] > 1 ? sq[c] / (n - 1) : biased)
    }
    return (stats, unbiased, mean)
}

func filtrationFinish(_ g: PairGroup, _ layout: PairLayout, _ p: PackedParams, _ st: GroupState,
                      stats: FiltrationStats, simDim s: Int) {
    let S = st.nodes[0].p, W = g.words
    for c in g.captionLo..<g.captionHi {
        let L = layout.lengths[c], lw = layout.localWord(g, c), j = c - g.captionLo
        let mu = stats.mean[c], inv = stats.invStd[c]
        var total: Float = 0
        for k in 0...L {
            let r = nodeRow(k, words: W, slot: j, localWord: lw)
            let gate = sigmoid(p.bnGamma * ((st.z.p[r] - mu) * inv) + p.bnBeta)
            st.gate.p[r] = gate
            total += gate
        }
        let denom = total + normEps
        st.gateSum.p[j] = denom
        let o = st.out.p + j * s
        o.update(repeating: 0, count: s)
        for k in 0...L {
            let r = nodeRow(k, words: W, slot: j, localWord: lw)
            unsafeAxpy(st.gate.p[r] / denom, S + r * s, o, s)
        }
        st.vNorm.p[j] = unsafeL2NormalizeRow(o, s)
    }
}

/// Per-worker gradient accumulators of SAF's parameters.
final class FiltrationGrads {
    let attnW: FloatBuffer
    var attnB: Float = 0
    var gamma: Float = 0
    var beta: Float = 0
    init(simDim s: Int) { attnW = FloatBuffer(s) }
}

/// First backward pass: the gradient of each normalised logit (`dxhat`, stored in `st.z`'s
/// companion buffer) and, per pair, Σ dxhat and Σ dxhat·xhat for the batch-norm backward.
func filtrationBackwardGates(_ g: PairGroup, _ layout: PairLayout, _ p: PackedParams, _ st: GroupState,
                             stats: FiltrationStats, simDim s: Int, dOut: UnsafePointer<Float>,
                             dxhat: UnsafeMutablePointer<Float>, pairSums: UnsafeMutablePointer<Double>,
                             scratch sc: BackwardScratch, grads acc: FiltrationGrads) {
    let S = st.nodes[0].p, W = g.words, dv = sc.dv.p
    for c in g.captionLo..<g.captionHi {
        let L = layout.lengths[c], lw = layout.localWord(g, c), j = c - g.captionLo
        let pIndex = layout.pairIndex(image: g.image, caption: c)
        dv.update(from: dOut + pIndex * s, count: s)
        unsafeL2NormalizeBackward(y: st.out.p + j * s, norm: st.vNorm.p[j], dv, s)
        let denom = st.gateSum.p[j]
        var t: Float = 0
        for k in 0...L {
            let r = nodeRow(k, words: W, slot: j, localWord: lw)
            let da = unsafeDot(dv, S + r * s, s)
            dxhat[r] = da  // dα for now
            t += da * st.gate.p[r] / denom
        }
        var sumD = 0.0, sumDX = 0.0
        for k in 0...L {
            let r = nodeRow(k, words: W, slot: j, localWord: lw)
            let gate = st.gate.p[r]
            let dzn = (dxhat[r] - t) / denom * gate * (1 - gate)
            let xhat = (st.z.p[r] - stats.mean[c]) * stats.invStd[c]
            acc.gamma += dzn * xhat
            acc.beta += dzn
            let dx = dzn * p.bnGamma
            dxhat[r] = dx
            sumD += Double(dx)
            sumDX += Double(dx * xhat)
        }
        pairSums[2 * pIndex] = sumD
        pairSums[2 * pIndex + 1] = sumDX
    }
}

/// Second backward pass: gradient of the node rows `dS` [N, s] (overwritten) and of `attn`.
func filtrationBackwardNodes(_ g: PairGroup, _ layout: PairLayout, _ p: PackedParams, _ st: GroupState,
                             stats: FiltrationStats, captionMeans: [(Float, Float)], simDim s: Int,
                             dOut: UnsafePointer<Float>, dxhat: UnsafePointer<Float>, dS: UnsafeMutablePointer<Float>,
                             scratch sc: BackwardScratch, grads acc: FiltrationGrads) {
    guard let attn = p.attn else { return }
    let S = st.nodes[0].p, W = g.words, dv = sc.dv.p
    for c in g.captionLo..<g.captionHi {
        let L = layout.lengths[c], lw = layout.localWord(g, c), j = c - g.captionLo
        let pIndex = layout.pairIndex(image: g.image, caption: c)
        dv.update(from: dOut + pIndex * s, count: s)
        unsafeL2NormalizeBackward(y: st.out.p + j * s, norm: st.vNorm.p[j], dv, s)
        let denom = st.gateSum.p[j], inv = stats.invStd[c]
        let (meanD, meanDX) = captionMeans[c]
        for k in 0...L {
            let r = nodeRow(k, words: W, slot: j, localWord: lw)
            let xhat = (st.z.p[r] - stats.mean[c]) * inv
            let dz = stats.training ? inv * (dxhat[r] - meanD - xhat * meanDX) : inv * dxhat[r]
            let row = dS + r * s
            for q in 0..<s { row[q] = 0 }
            unsafeAxpy(st.gate.p[r] / denom, dv, row, s)
            unsafeAxpy(dz, attn.w.p, row, s)
            unsafeAxpy(dz, S + r * s, acc.attnW.p, s)
            acc.attnB += dz
        }
    }
}
