/// Parameters copied into raw buffers once per call, so worker threads read them by pointer.
final class PackedLinear {
    let w: FloatBuffer
    let b: FloatBuffer
    let outFeatures: Int
    let inFeatures: Int

    init(_ l: LinearParams) {
        outFeatures = l.outFeatures
        inFeatures = l.inFeatures
        w = FloatBuffer(l.weight.count, zeroed: false)
        b = FloatBuffer(l.bias.count, zeroed: false)
        copyArray(l.weight, to: w.p)
        copyArray(l.bias, to: b.p)
    }
}

final class PackedParams {
    let loc: PackedLinear
    let glo: PackedLinear
    let sgr: [(query: PackedLinear, key: PackedLinear, graph: PackedLinear)]
    let attn: PackedLinear?
    let bnGamma: Float
    let bnBeta: Float

    init(_ p: SimilarityParams, module: SimilarityModule, dim: Int, simDim: Int) {
        func check(_ l: LinearParams, _ o: Int, _ i: Int, _ name: String) {
            precondition(l.outFeatures == o && l.inFeatures == i && l.weight.count == o * i && l.bias.count == o,
                         "SimilarityParams.\(name): expected [\(o), \(i)], got [\(l.outFeatures), \(l.inFeatures)] with \(l.weight.count)/\(l.bias.count) values")
        }
        check(p.tranLoc, simDim, dim, "tranLoc")
        check(p.tranGlo, simDim, dim, "tranGlo")
        loc = PackedLinear(p.tranLoc)
        glo = PackedLinear(p.tranGlo)
        switch module {
        case .sgr(let steps):
            precondition(p.sgr.count == steps, "SimilarityParams.sgr has \(p.sgr.count) steps, module expects \(steps)")
            for (k, step) in p.sgr.enumerated() {
                check(step.query, simDim, simDim, "sgr[\(k)].query")
                check(step.key, simDim, simDim, "sgr[\(k)].key")
                check(step.graph, simDim, simDim, "sgr[\(k)].graph")
            }
            sgr = p.sgr.map { (PackedLinear($0.query), PackedLinear($0.key), PackedLinear($0.graph)) }
            attn = nil
            bnGamma = 0
            bnBeta = 0
        case .saf:
            guard let a = p.safAttn, let bn = p.safBN else {
                preconditionFailure("SimilarityParams: SAF needs safAttn and safBN")
            }
            check(a, 1, simDim, "safAttn")
            precondition(bn.weight.count == 1 && bn.bias.count == 1 && bn.runningMean.count == 1 && bn.runningVar.count == 1,
                         "SimilarityParams.safBN must have exactly one channel")
            sgr = []
            attn = PackedLinear(a)
            bnGamma = bn.weight[0]
            bnBeta = bn.bias[0]
        }
    }
}

/// Inputs in raw buffers: images, packed caption words (padding dropped), global vectors.
final class PackedInputs {
    let images: FloatBuffer        // [Bi, R, d]
    let words: FloatBuffer         // [W, d], caption c's words at rows wordOffset[c]...
    let imageGlobal: FloatBuffer   // [Bi, d]
    let captionGlobal: FloatBuffer // [Bc, d]
    let imageCount: Int, captionCount: Int, regions: Int, maxLength: Int, dim: Int

    init(_ x: SimilarityInputs, layout: PairLayout) {
        imageCount = x.imageCount
        captionCount = x.captionCount
        regions = x.regions
        maxLength = x.maxLength
        dim = x.dim
        func copy(_ a: [Float]) -> FloatBuffer {
            let b = FloatBuffer(a.count, zeroed: false)
            copyArray(a, to: b.p)
            return b
        }
        images = copy(x.images)
        imageGlobal = copy(x.imageGlobal)
        captionGlobal = copy(x.captionGlobal)
        let d = x.dim
        words = FloatBuffer(layout.wordOffset[x.captionCount] * d, zeroed: false)
        x.captions.withUnsafeBufferPointer { cap in
            guard let base = cap.baseAddress else { return }
            for c in 0..<x.captionCount {
                (words.p + layout.wordOffset[c] * d).update(from: base + c * x.maxLength * d, count: x.lengths[c] * d)
            }
        }
    }
}

/// Sizes a group-state must hold (the largest group of a layout, or one group exactly).
struct GroupCapacity {
    var words: Int
    var pairs: Int
    var edges: Int
    var nodes: Int { words + pairs }

    func covers(_ o: GroupCapacity) -> Bool { words >= o.words && pairs >= o.pairs && edges >= o.edges }

    init(_ g: PairGroup, _ layout: PairLayout) {
        words = g.words
        pairs = g.pairCount
        edges = layout.edgeCount(g)
    }

    init(maxOf layout: PairLayout) {
        words = 0; pairs = 0; edges = 0
        for g in layout.groups {
            words = max(words, g.words)
            pairs = max(pairs, g.pairCount)
            edges = max(edges, layout.edgeCount(g))
        }
    }
}

/// Float counts of one group-state's buffers: the single source for allocating a state and for
/// sizing a tape before allocating it.
struct StateSizes {
    var gram = 0, attnNorm = 0, prob = 0, u = 0, uNorm = 0, nodeNorm = 0, out = 0
    var nodes: [Int] = [], q: [Int] = [], k: [Int] = [], e: [Int] = [], m: [Int] = []
    var z = 0, gate = 0, gateSum = 0, vNorm = 0

    /// `lean`: no attended contexts `u` and no messages of SGR's inner rounds (the backward
    /// recomputes both); the last round's messages (one row per pair) are kept.
    init(_ c: GroupCapacity, regions: Int, dim: Int, simDim s: Int, module: SimilarityModule, lean: Bool) {
        let n = c.nodes
        gram = regions * c.words
        attnNorm = c.pairs * regions
        prob = c.words * regions
        u = lean ? 0 : c.words * dim
        uNorm = c.words
        nodeNorm = n
        out = c.pairs * s
        switch module {
        case .sgr(let steps):
            // The last step only needs node 0 of each pair for queries, messages and output.
            let last = steps - 1
            nodes = Array(repeating: n * s, count: steps)
            q = (0..<steps).map { $0 == last ? c.pairs * s : n * s }
            k = Array(repeating: n * s, count: steps)
            e = Array(repeating: c.edges, count: steps)
            m = (0..<steps).map { $0 == last ? c.pairs * s : (lean ? 0 : n * s) }
        case .saf:
            nodes = [n * s]
            z = n; gate = n; gateSum = c.pairs; vNorm = c.pairs
        }
    }

    var total: Int {
        let lists = nodes + q + k + e + m
        return gram + attnNorm + prob + u + uNorm + nodeNorm + out + z + gate + gateSum + vNorm + lists.reduce(0, +)
    }
}

/// One group's forward activations (what backward reads). Every element a later step reads
/// is written first, so the buffers start uninitialised.
final class GroupState {
    let gram: FloatBuffer      // [R, W] raw region·word products
    let attnNorm: FloatBuffer  // [pairs, R] ‖LeakyReLU(gram)‖ over the pair's words
    let prob: FloatBuffer      // [W, R] softmax over regions
    let u: FloatBuffer         // [W, d] l2-normalised attended context (empty when lean)
    let uNorm: FloatBuffer     // [W]
    let nodeNorm: FloatBuffer  // [N] norms of Linear_loc / Linear_glo rows before l2norm
    /// SGR: nodes[t] is step t's input [N, s]. SAF: nodes[0] only.
    let nodes: [FloatBuffer]
    /// SGR: m[t] is empty for inner rounds when lean.
    let q: [FloatBuffer], k: [FloatBuffer], e: [FloatBuffer], m: [FloatBuffer]
    let out: FloatBuffer       // [pairs, s] similarity vectors of the group's pairs
    // SAF
    let z: FloatBuffer         // [N] attention logits before BN
    let gate: FloatBuffer      // [N] sigmoid(BN(z))
    let gateSum: FloatBuffer   // [pairs] Σ gate + ε
    let vNorm: FloatBuffer     // [pairs]
    let capacity: GroupCapacity
    /// Keeps neither `u` nor the inner rounds' messages: the forward writes them to per-worker
    /// scratch and the backward recomputes them (same products on the same inputs, same bits).
    let lean: Bool
    let byteCount: Int

    init(_ c: GroupCapacity, regions: Int, dim: Int, simDim s: Int, module: SimilarityModule, lean: Bool) {
        capacity = c
        self.lean = lean
        let sizes = StateSizes(c, regions: regions, dim: dim, simDim: s, module: module, lean: lean)
        byteCount = sizes.total * MemoryLayout<Float>.size
        gram = FloatBuffer(unzeroed: sizes.gram)
        attnNorm = FloatBuffer(unzeroed: sizes.attnNorm)
        prob = FloatBuffer(unzeroed: sizes.prob)
        u = FloatBuffer(unzeroed: sizes.u)
        uNorm = FloatBuffer(unzeroed: sizes.uNorm)
        nodeNorm = FloatBuffer(unzeroed: sizes.nodeNorm)
        out = FloatBuffer(unzeroed: sizes.out)
        nodes = sizes.nodes.map { FloatBuffer(unzeroed: $0) }
        q = sizes.q.map { FloatBuffer(unzeroed: $0) }
        k = sizes.k.map { FloatBuffer(unzeroed: $0) }
        e = sizes.e.map { FloatBuffer(unzeroed: $0) }
        m = sizes.m.map { FloatBuffer(unzeroed: $0) }
        z = FloatBuffer(unzeroed: sizes.z)
        gate = FloatBuffer(unzeroed: sizes.gate)
        gateSum = FloatBuffer(unzeroed: sizes.gateSum)
        vNorm = FloatBuffer(unzeroed: sizes.vNorm)
    }
}

/// Per-worker buffers of a forward: the linear layers' inputs, and where a lean state's
/// unkept activations (`u`, inner-round messages) are written.
final class ForwardScratch {
    let x: FloatBuffer  // [words, d]
    let u: FloatBuffer  // [words, d]
    let m: FloatBuffer  // [nodes, s]

    init(_ c: GroupCapacity, dim d: Int, simDim s: Int, lean: Bool) {
        x = FloatBuffer(unzeroed: c.words * d)
        u = FloatBuffer(unzeroed: lean ? c.words * d : 0)
        m = FloatBuffer(unzeroed: lean ? c.nodes * s : 0)
    }
}

/// Node row of node `k` (0 = global, 1...L = words) of the pair at local word row `lw`, pair slot `j`.
@inline(__always)
func nodeRow(_ k: Int, words: Int, slot j: Int, localWord lw: Int) -> Int {
    k == 0 ? words + j : lw + k - 1
}

/// Row of query (or message) `a` of the pair in slot `j` in one SGR round: every node has a row
/// (`nodeRow`), except in the last round, which keeps one row per pair (node 0 only), at row `j`.
@inline(__always)
func roundRow(_ a: Int, last: Bool, words: Int, slot j: Int, localWord lw: Int) -> Int {
    last ? j : nodeRow(a, words: words, slot: j, localWord: lw)
}
