/// Steps 1–2 of the pair similarity for one group (image i against a caption range):
/// SCAN attention of words over regions, the local alignments `l2norm(Linear_loc((u − t)²))`
/// and the global one `l2norm(Linear_glo((v_glo − t_glo)²))`, written as node rows
/// (words first, then one global row per pair) of `state.nodes[0]`.
struct AlignmentShape {
    let regions: Int
    let dim: Int
    let simDim: Int
}

/// SCAN's softmax temperature (λ in the reference, `smooth`).
let attentionSmooth: Float = 9

func alignmentForward(_ g: PairGroup, _ layout: PairLayout, _ x: PackedInputs, _ p: PackedParams,
                      _ st: GroupState, shape: AlignmentShape, scratch: ForwardScratch) {
    let R = shape.regions, d = shape.dim, s = shape.simDim, W = g.words
    let v = x.images.p + g.image * R * d
    let t = x.words.p + g.wordLo * d
    let gram = st.gram.p, prob = st.prob.p, u = st.lean ? scratch.u.p : st.u.p
    // All regions against all the group's words in one product: gram [R, W].
    sgemm(false, true, R, W, d, 1, v, d, t, d, 0, gram, W)
    for c in g.captionLo..<g.captionHi {
        let j = c - g.captionLo
        attentionLogits(gram: gram, stride: W, firstWord: layout.localWord(g, c), words: layout.lengths[c], regions: R,
                        norms: st.attnNorm.p + j * R, logits: prob)
    }
    unsafeSoftmaxRows(prob, rows: W, R)
    attendedContext(words: W, regions: R, dim: d, prob: prob, images: v, into: u, norms: st.uNorm.p)
    // Local alignments of all the group's words in one product.
    let X = scratch.x.p
    for w in 0..<W { unsafeSquaredDifference(u + w * d, t + w * d, X + w * d, d) }
    let S = st.nodes[0].p
    sgemmBiased(rows: W, s, d, X, p.loc.w.p, bias: p.loc.b.p, into: S)
    for w in 0..<W { st.nodeNorm.p[w] = unsafeL2NormalizeRow(S + w * s, s) }
    // Global alignment of each pair.
    let n = g.pairCount
    let vg = x.imageGlobal.p + g.image * d
    for j in 0..<n {
        unsafeSquaredDifference(vg, x.captionGlobal.p + (g.captionLo + j) * d, X + j * d, d)
    }
    let Sg = S + W * s
    sgemmBiased(rows: n, s, d, X, p.glo.w.p, bias: p.glo.b.p, into: Sg)
    for j in 0..<n { st.nodeNorm.p[W + j] = unsafeL2NormalizeRow(Sg + j * s, s) }
}

/// SCAN's attention logits of one caption before the softmax over regions:
/// `λ · LeakyReLU(gram[r, w]) / (‖LeakyReLU(gram[r, ·])‖ + ε)`, the norm over the caption's words.
/// `gram` is [R, stride] (the caption's words at columns firstWord...); writes `norms[r]` and the
/// logits transposed, `logits[(firstWord + l)·R + r]`. Four regions at a time: four independent
/// sums, each over the words in order as for one region alone (the same bits), and each word's
/// four logits stored as one vector.
func attentionLogits(gram: UnsafePointer<Float>, stride W: Int, firstWord lw: Int, words L: Int, regions R: Int,
                     norms: UnsafeMutablePointer<Float>, logits prob: UnsafeMutablePointer<Float>) {
    var r = 0
    while r + 4 <= R {
        let row0 = gram + r * W + lw, row1 = row0 + W, row2 = row1 + W, row3 = row2 + W
        var ss = SIMD4<Float>()
        for l in 0..<L {
            let a = leakyReLU4(SIMD4(row0[l], row1[l], row2[l], row3[l]))
            ss += a * a
        }
        let n = ss.squareRoot()
        UnsafeMutableRawPointer(norms + r).storeBytes(of: n, as: SIMD4<Float>.self)
        let scale = SIMD4(repeating: attentionSmooth) / (n + normEps)
        for l in 0..<L {
            let a = leakyReLU4(SIMD4(row0[l], row1[l], row2[l], row3[l]))
            UnsafeMutableRawPointer(prob + (lw + l) * R + r).storeBytes(of: a * scale, as: SIMD4<Float>.self)
        }
        r += 4
    }
    while r < R {
        let row = gram + r * W + lw
        var ss: Float = 0
        for l in 0..<L { let a = leakyReLU(row[l]); ss += a * a }
        let n = ss.squareRoot()
        norms[r] = n
        let scale = attentionSmooth / (n + normEps)
        for l in 0..<L { prob[(lw + l) * R + r] = leakyReLU(row[l]) * scale }
        r += 1
    }
}

/// Backward of `attentionLogits` for one caption, in place on `dLogits` [R, stride] (the
/// caption's columns): through the per-region l2norm over the caption's words, then LeakyReLU.
/// One region at a time: a four-region form like the forward's gathers from four rows a
/// stride apart and measured no faster.
func attentionLogitsBackward(gram: UnsafePointer<Float>, gradient dGram: UnsafeMutablePointer<Float>, stride W: Int,
                             firstWord lw: Int, words L: Int, regions R: Int, norms: UnsafePointer<Float>) {
    for r in 0..<R {
        let row = gram + r * W + lw, drow = dGram + r * W + lw
        let nr = norms[r]
        let inv = 1 / (nr + normEps)
        var yd: Float = 0
        for l in 0..<L { yd += leakyReLU(row[l]) * inv * drow[l] }
        let coef = nr > 0 ? yd / nr : 0
        for l in 0..<L {
            let y = leakyReLU(row[l]) * inv
            let da = drow[l] * inv - y * coef
            drow[l] = row[l] > 0 ? da : 0.1 * da
        }
    }
}

/// Attended context of every word, `u = l2norm(P·v)`, with the row norms when `norms` is given.
/// A lean state's backward recomputes `u` with this same call, so it gets the forward's bits.
func attendedContext(words W: Int, regions R: Int, dim d: Int, prob: UnsafePointer<Float>, images v: UnsafePointer<Float>,
                     into u: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>?) {
    sgemm(false, false, W, d, R, 1, prob, R, v, d, 0, u, d)
    for w in 0..<W {
        let n = unsafeL2NormalizeRow(u + w * d, d)
        norms?[w] = n
    }
}

/// Per-worker gradient accumulators for the inputs and the alignment parameters.
final class AlignmentGrads {
    let images: FloatBuffer, words: FloatBuffer, imageGlobal: FloatBuffer, captionGlobal: FloatBuffer
    let locW: FloatBuffer, locB: FloatBuffer, gloW: FloatBuffer, gloB: FloatBuffer

    init(_ x: PackedInputs, simDim s: Int) {
        let d = x.dim
        images = FloatBuffer(x.images.count)
        words = FloatBuffer(x.words.count)
        imageGlobal = FloatBuffer(x.imageGlobal.count)
        captionGlobal = FloatBuffer(x.captionGlobal.count)
        locW = FloatBuffer(s * d); locB = FloatBuffer(s)
        gloW = FloatBuffer(s * d); gloB = FloatBuffer(s)
    }
}

/// Scratch for one worker's backward, sized for the largest group. Every buffer is written
/// (or explicitly zeroed) before it is read; BLAS calls with beta = 0 ignore C's contents.
final class BackwardScratch {
    let x: FloatBuffer, dx: FloatBuffer, dxg: FloatBuffer, dP: FloatBuffer, dGram: FloatBuffer
    let dS: FloatBuffer, dSNext: FloatBuffer, dH: FloatBuffer, dM: FloatBuffer, dQ: FloatBuffer, dK: FloatBuffer
    let dv: FloatBuffer
    /// A lean state's recomputed `u` [words, d] and inner-round messages [nodes, s].
    let u: FloatBuffer, m: FloatBuffer
    /// Per pair of the group: whether any of its gradients is nonzero (`PairActivity`).
    let active: PairActivity

    init(_ c: GroupCapacity, regions R: Int, dim d: Int, simDim s: Int, lean: Bool) {
        x = FloatBuffer(unzeroed: c.words * d); dx = FloatBuffer(unzeroed: c.words * d); dxg = FloatBuffer(unzeroed: c.pairs * d)
        dP = FloatBuffer(unzeroed: c.words * R); dGram = FloatBuffer(unzeroed: R * c.words)
        let n = c.nodes * s
        dS = FloatBuffer(unzeroed: n); dSNext = FloatBuffer(unzeroed: n); dH = FloatBuffer(unzeroed: n); dM = FloatBuffer(unzeroed: n)
        dQ = FloatBuffer(unzeroed: n); dK = FloatBuffer(unzeroed: n)
        dv = FloatBuffer(unzeroed: s)
        u = FloatBuffer(unzeroed: lean ? c.words * d : 0)
        m = FloatBuffer(unzeroed: lean ? n : 0)
        active = PairActivity(c.pairs)
    }
}

/// Backward of `alignmentForward`: `dS` [N, s] (gradient of the node rows) is consumed in place.
func alignmentBackward(_ g: PairGroup, _ layout: PairLayout, _ x: PackedInputs, _ p: PackedParams,
                       _ st: GroupState, shape: AlignmentShape, dS: UnsafeMutablePointer<Float>,
                       scratch sc: BackwardScratch, grads acc: AlignmentGrads) {
    let R = shape.regions, d = shape.dim, s = shape.simDim, W = g.words, n = g.pairCount
    let v = x.images.p + g.image * R * d
    let t = x.words.p + g.wordLo * d
    let S = st.nodes[0].p
    // A pair whose node gradients are all zero adds exactly zero below: its per-row work is
    // skipped (its rows of dX, dP and dGram stay zero). Products keep their shapes (rounding
    // depends on them); the weight gradients' ones leave out zero depth runs and the data
    // gradients' ones zero kernel tiles where that gives the same bits.
    let active = sc.active
    active.mark(g, layout, rows: dS, simDim: s)
    /// `body(w)` for the local word rows of the group's active pairs.
    func activeWords(_ body: (Int) -> Void) {
        for c in g.captionLo..<g.captionHi where active[c - g.captionLo] {
            let lw = layout.localWord(g, c)
            for w in lw..<(lw + layout.lengths[c]) { body(w) }
        }
    }
    // Through the l2norms of the node rows.
    activeWords { w in unsafeL2NormalizeBackward(y: S + w * s, norm: st.nodeNorm.p[w], dS + w * s, s) }
    for j in 0..<n where active[j] {
        unsafeL2NormalizeBackward(y: S + (W + j) * s, norm: st.nodeNorm.p[W + j], dS + (W + j) * s, s)
    }
    let prob = st.prob.p
    let u: UnsafeMutablePointer<Float>
    if st.lean {
        u = sc.u.p
        attendedContext(words: W, regions: R, dim: d, prob: prob, images: v, into: u, norms: nil)
    } else {
        u = st.u.p
    }
    let X = sc.x.p, dX = sc.dx.p
    // Local: Linear_loc over (u − t)², recomputed rather than stored.
    for w in 0..<W { unsafeSquaredDifference(u + w * d, t + w * d, X + w * d, d) }
    sgemmAddSkippingZeroDepth(true, false, s, d, W, dS, s, X, d, acc.locW.p, d, zerosIn: .a)
    unsafeAddColumnSums(dS, rows: W, s, into: acc.locB.p)
    sgemm(false, false, W, d, s, 1, dS, s, p.loc.w.p, d, 0, dX, d, zeroRowsInA: true)
    let dWords = acc.words.p + g.wordLo * d
    activeWords { w in
        let uw = u + w * d, tw = t + w * d, gx = dX + w * d, dt = dWords + w * d
        for k in 0..<d {
            let gk = 2 * (uw[k] - tw[k]) * gx[k]
            gx[k] = gk
            dt[k] -= gk
        }
    }
    // Global: Linear_glo over (v_glo − t_glo)².
    let vg = x.imageGlobal.p + g.image * d
    for j in 0..<n { unsafeSquaredDifference(vg, x.captionGlobal.p + (g.captionLo + j) * d, X + j * d, d) }
    let dSg = dS + W * s
    sgemm(true, false, s, d, n, 1, dSg, s, X, d, 1, acc.gloW.p, d)
    unsafeAddColumnSums(dSg, rows: n, s, into: acc.gloB.p)
    let dXg = sc.dxg.p
    sgemm(false, false, n, d, s, 1, dSg, s, p.glo.w.p, d, 0, dXg, d, zeroRowsInA: true)
    let dvg = acc.imageGlobal.p + g.image * d
    for j in 0..<n where active[j] {
        let tg = x.captionGlobal.p + (g.captionLo + j) * d, dtg = acc.captionGlobal.p + (g.captionLo + j) * d
        let gx = dXg + j * d
        for k in 0..<d {
            let gk = 2 * (vg[k] - tg[k]) * gx[k]
            dvg[k] += gk
            dtg[k] -= gk
        }
    }
    // Through u = l2norm(P·v).
    activeWords { w in unsafeL2NormalizeBackward(y: u + w * d, norm: st.uNorm.p[w], dX + w * d, d) }
    let dP = sc.dP.p
    sgemm(false, true, W, R, d, 1, dX, d, v, d, 0, dP, R, zeroRowsInA: true)
    let dv = acc.images.p + g.image * R * d
    sgemmAddSkippingZeroDepth(true, false, R, d, W, prob, R, dX, d, dv, d, zerosIn: .b)
    // Softmax over regions, then the per-region l2norm over the pair's words, then LeakyReLU.
    // An inactive pair's columns of dGram are zero (the scratch holds an earlier group's values).
    let gram = st.gram.p, dGram = sc.dGram.p
    for c in g.captionLo..<g.captionHi where !active[c - g.captionLo] {
        let lw = layout.localWord(g, c), L = layout.lengths[c]
        for r in 0..<R { (dGram + r * W + lw).update(repeating: 0, count: L) }
    }
    activeWords { w in
        let pr = prob + w * R, dp = dP + w * R
        let dotp = unsafeDot(pr, dp, R)
        for r in 0..<R { dGram[r * W + w] = attentionSmooth * pr[r] * (dp[r] - dotp) }
    }
    for c in g.captionLo..<g.captionHi where active[c - g.captionLo] {
        attentionLogitsBackward(gram: gram, gradient: dGram, stride: W, firstWord: layout.localWord(g, c), words: layout.lengths[c],
                                regions: R, norms: st.attnNorm.p + (c - g.captionLo) * R)
    }
    sgemmAddSkippingZeroDepth(false, false, R, d, W, dGram, W, t, d, dv, d, zerosIn: .a)
    sgemm(true, false, W, d, R, 1, dGram, W, v, d, 1, dWords, d, zeroRowsInA: true)
}
