/// SGR: `steps` rounds of `E = softmax_row(Q Kᵀ)`, `S ← ReLU((E·S) W_gᵀ + b_g)` over each pair's
/// L+1 nodes. Q, K and the graph products run as GEMMs over all the group's node rows; only the
/// (L+1)² edge work is per pair. The last round only needs node 0 (the output), so its queries,
/// messages and outputs cover one row per pair.
func graphForward(_ g: PairGroup, _ layout: PairLayout, _ p: PackedParams, _ st: GroupState, simDim s: Int,
                  scratch: ForwardScratch) {
    let steps = p.sgr.count, W = g.words, N = g.nodes, n = g.pairCount
    let rows = NodeRowTable(layout.maxLength(g) + 1)
    for step in 0..<steps {
        let last = step == steps - 1
        let S = st.nodes[step].p, Q = st.q[step].p, K = st.k[step].p, E = st.e[step].p
        let M = st.lean && !last ? scratch.m.p : st.m[step].p
        let lin = p.sgr[step]
        // Queries of every node (or of node 0 only, which sit contiguously after the word rows).
        let qRows = last ? n : N
        let qSrc = last ? S + W * s : S
        sgemmBiased(rows: qRows, s, s, qSrc, lin.query.w.p, bias: lin.query.b.p, into: Q)
        sgemmBiased(rows: N, s, s, S, lin.key.w.p, bias: lin.key.b.p, into: K)
        for c in g.captionLo..<g.captionHi {
            let L1 = layout.lengths[c] + 1, lw = layout.localWord(g, c), j = c - g.captionLo
            let e = E + layout.localEdge(g, c)
            for b in 0..<L1 { rows.k[b] = K + nodeRow(b, words: W, slot: j, localWord: lw) * s }
            let A = last ? 1 : L1
            func query(_ a: Int) -> UnsafeMutablePointer<Float> { Q + roundRow(a, last: last, words: W, slot: j, localWord: lw) * s }
            var a = 0
            while a + 2 <= A {
                unsafeDotRows2(query(a), query(a + 1), rows.k, L1, e + a * L1, e + (a + 1) * L1, s)
                a += 2
            }
            if a < A { unsafeDotRows(query(a), rows.k, L1, e + a * L1, s) }
            unsafeSoftmaxRows(e, rows: A, L1)
        }
        graphMessages(g, layout, nodes: S, edges: E, last: last, into: M, rows: rows, simDim: s)
        let out = last ? st.out.p : st.nodes[step + 1].p
        sgemmBiased(rows: qRows, s, s, M, lin.graph.w.p, bias: lin.graph.b.p, into: out)
        // A select, not a conditional store: masked stores are microcoded on some x86 cores.
        for i in 0..<(qRows * s) { out[i] = out[i] < 0 ? 0 : out[i] }
    }
}

/// Messages `M_a = Σ_b E_ab S_b` of a group's round: of every node, or of node 0 only in the last
/// round (one row per pair). A lean state's backward recomputes inner rounds with this same call,
/// so it gets the forward's bits.
func graphMessages(_ g: PairGroup, _ layout: PairLayout, nodes S: UnsafeMutablePointer<Float>, edges E: UnsafePointer<Float>,
                   last: Bool, into M: UnsafeMutablePointer<Float>, rows: NodeRowTable, simDim s: Int) {
    let W = g.words
    // Every message row is one of these (all nodes, or one per pair): one memset, not one per row.
    M.update(repeating: 0, count: (last ? g.pairCount : g.nodes) * s)
    for c in g.captionLo..<g.captionHi {
        let L1 = layout.lengths[c] + 1, lw = layout.localWord(g, c), j = c - g.captionLo
        let e = E + layout.localEdge(g, c)
        for b in 0..<L1 { rows.s[b] = S + nodeRow(b, words: W, slot: j, localWord: lw) * s }
        let A = last ? 1 : L1
        func message(_ a: Int) -> UnsafeMutablePointer<Float> { M + roundRow(a, last: last, words: W, slot: j, localWord: lw) * s }
        var a = 0
        while a + 2 <= A {
            unsafeCombineRows2(e + a * L1, e + (a + 1) * L1, rows.s, L1, into: message(a), message(a + 1), s)
            a += 2
        }
        if a < A { unsafeCombineRows(e + a * L1, rows.s, L1, into: message(a), s) }
    }
}

/// Per-worker gradient accumulators of the SGR weights, `[step]` of (query, key, graph) × (w, b).
final class GraphGrads {
    let w: [[FloatBuffer]]
    let b: [[FloatBuffer]]

    init(steps: Int, simDim s: Int) {
        w = (0..<steps).map { _ in (0..<3).map { _ in FloatBuffer(s * s) } }
        b = (0..<steps).map { _ in (0..<3).map { _ in FloatBuffer(s) } }
    }
}

/// Backward of `graphForward`. `dOut` [pairs, s] is the gradient of the group's outputs; the
/// gradient of the first round's input nodes ends in `sc.dS` (returned pointer) [N, s].
func graphBackward(_ g: PairGroup, _ layout: PairLayout, _ p: PackedParams, _ st: GroupState, simDim s: Int,
                   dOut: UnsafePointer<Float>, scratch sc: BackwardScratch, grads acc: GraphGrads) -> UnsafeMutablePointer<Float> {
    let steps = p.sgr.count, W = g.words, N = g.nodes, n = g.pairCount
    var dNext = sc.dSNext.p  // gradient of this round's output
    var dS = sc.dS.p         // gradient of this round's input, being built
    dNext.update(from: dOut, count: n * s)
    let dH = sc.dH.p, dM = sc.dM.p, dQ = sc.dQ.p, dK = sc.dK.p
    let maxL1 = layout.maxLength(g) + 1
    let table = NodeRowTable(maxL1)
    // One pair's edge gradients [A, L1] and the row pointers of its queries and message gradients.
    let dEdge = FloatBuffer(unzeroed: maxL1 * maxL1)
    let column = FloatBuffer(unzeroed: maxL1), column2 = FloatBuffer(unzeroed: maxL1)
    let qRows = NodeRowTable(maxL1)
    // An inactive pair's rows of dS, dQ and dK stay zero in every round (`PairActivity`).
    let active = sc.active
    active.mark(outputs: dOut, pairs: n, simDim: s)
    for step in stride(from: steps - 1, through: 0, by: -1) {
        let last = step == steps - 1
        let S = st.nodes[step].p, Q = st.q[step].p, K = st.k[step].p, E = st.e[step].p
        let M: UnsafeMutablePointer<Float>
        if st.lean && !last {
            M = sc.m.p
            graphMessages(g, layout, nodes: S, edges: E, last: false, into: M, rows: table, simDim: s)
        } else {
            M = st.m[step].p
        }
        let out = last ? st.out.p : st.nodes[step + 1].p
        let lin = p.sgr[step]
        let rows = last ? n : N
        for i in 0..<(rows * s) { dH[i] = out[i] > 0 ? dNext[i] : 0 }
        // Weight gradients: an inactive pair's rows of dH, dQ and dK are zero (`PairActivity`).
        sgemmAddSkippingZeroDepth(true, false, s, s, rows, dH, s, M, s, acc.w[step][2].p, s, zerosIn: .a)
        unsafeAddColumnSums(dH, rows: rows, s, into: acc.b[step][2].p)
        sgemm(false, false, rows, s, s, 1, dH, s, lin.graph.w.p, s, 0, dM, s, zeroRowsInA: true)
        dS.update(repeating: 0, count: N * s)
        dQ.update(repeating: 0, count: rows * s)
        dK.update(repeating: 0, count: N * s)
        for c in g.captionLo..<g.captionHi where active[c - g.captionLo] {
            let L1 = layout.lengths[c] + 1, lw = layout.localWord(g, c), j = c - g.captionLo
            let e = E + layout.localEdge(g, c)
            for b in 0..<L1 {
                let r = nodeRow(b, words: W, slot: j, localWord: lw)
                table.s[b] = S + r * s
                table.k[b] = K + r * s
            }
            let A = last ? 1 : L1
            for a in 0..<A {
                let qRow = roundRow(a, last: last, words: W, slot: j, localWord: lw)
                qRows.s[a] = dM + qRow * s
                qRows.k[a] = Q + qRow * s
            }
            // Per query row a: dE_ab = dM_a · S_b, then the softmax backward; dQ_a = Σ_b dE_ab K_b.
            // Two query rows at a time share the loads of S_b and K_b.
            func softmaxBackward(_ a: Int) {
                let ea = e + a * L1, dEs = dEdge.p + a * L1
                var dotED: Float = 0
                for b in 0..<L1 { dotED += dEs[b] * ea[b] }
                for b in 0..<L1 { dEs[b] = ea[b] * (dEs[b] - dotED) }
            }
            var a = 0
            while a + 2 <= A {
                unsafeDotRows2(qRows.s[a], qRows.s[a + 1], table.s, L1, dEdge.p + a * L1, dEdge.p + (a + 1) * L1, s)
                softmaxBackward(a)
                softmaxBackward(a + 1)
                unsafeCombineRows2(dEdge.p + a * L1, dEdge.p + (a + 1) * L1, table.k, L1,
                                   into: dQ + (qRows.k[a] - Q), dQ + (qRows.k[a + 1] - Q), s)
                a += 2
            }
            if a < A {
                unsafeDotRows(qRows.s[a], table.s, L1, dEdge.p + a * L1, s)
                softmaxBackward(a)
                unsafeCombineRows(dEdge.p + a * L1, table.k, L1, into: dQ + (qRows.k[a] - Q), s)
            }
            // Per node b, summed over a in order, two nodes at a time (each dM_a and Q_a loaded
            // once for both): the message term dS_b += Σ_a E_ab dM_a and the key term
            // dK_b += Σ_a dE_ab Q_a.
            var b = 0
            while b + 2 <= L1 {
                let r0 = nodeRow(b, words: W, slot: j, localWord: lw) * s
                let r1 = nodeRow(b + 1, words: W, slot: j, localWord: lw) * s
                for a in 0..<A { column.p[a] = e[a * L1 + b]; column2.p[a] = e[a * L1 + b + 1] }
                unsafeCombineRows2(column.p, column2.p, qRows.s, A, into: dS + r0, dS + r1, s)
                for a in 0..<A { column.p[a] = dEdge.p[a * L1 + b]; column2.p[a] = dEdge.p[a * L1 + b + 1] }
                unsafeCombineRows2(column.p, column2.p, qRows.k, A, into: dK + r0, dK + r1, s)
                b += 2
            }
            if b < L1 {
                let r = nodeRow(b, words: W, slot: j, localWord: lw) * s
                for a in 0..<A { column.p[a] = e[a * L1 + b] }
                unsafeCombineRows(column.p, qRows.s, A, into: dS + r, s)
                for a in 0..<A { column.p[a] = dEdge.p[a * L1 + b] }
                unsafeCombineRows(column.p, qRows.k, A, into: dK + r, s)
            }
        }
        let qSrc = last ? S + W * s : S
        sgemmAddSkippingZeroDepth(true, false, s, s, rows, dQ, s, qSrc, s, acc.w[step][0].p, s, zerosIn: .a)
        unsafeAddColumnSums(dQ, rows: rows, s, into: acc.b[step][0].p)
        sgemmAddSkippingZeroDepth(true, false, s, s, N, dK, s, S, s, acc.w[step][1].p, s, zerosIn: .a)
        unsafeAddColumnSums(dK, rows: N, s, into: acc.b[step][1].p)
        sgemm(false, false, rows, s, s, 1, dQ, s, lin.query.w.p, s, 1, last ? dS + W * s : dS, s, zeroRowsInA: true)
        sgemm(false, false, N, s, s, 1, dK, s, lin.key.w.p, s, 1, dS, s, zeroRowsInA: true)
        swap(&dNext, &dS)
    }
    return dNext
}

/// Row pointers of one pair's nodes (node 0 is not next to the word nodes in a group's layout).
final class NodeRowTable {
    let s: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let k: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    init(_ capacity: Int) {
        s = .allocate(capacity: capacity)
        k = .allocate(capacity: capacity)
    }
    deinit {
        s.deallocate()
        k.deallocate()
    }
}
