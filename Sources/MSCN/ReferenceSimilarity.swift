import Engine

/// The similarity module written op by op on the tape, one caption at a time like the
/// reference. Slow (many small products) but simple: the yardstick for the fused kernel and a
/// fallback for tiny configurations.
public struct ReferenceSimilarity: SimilarityBackend {
    public init() {}

    public func simVectors(tape t: Tape, images: Var, imageGlobal: Var, captions: Var, lengths: [Int], captionGlobal: Var,
                           params p: [String: Var], config c: ModelConfig, safBN: inout BatchNormBuffers?,
                           pairs: PairMode, training: Bool, updateStats: Bool) -> Var {
        let bi = t.shape(images)[0], bc = lengths.count, lmax = t.shape(captions)[1], d = c.embedDim
        var blocks: [Var] = []
        for j in 0..<bc {
            let n = lengths[j]
            let capRow = t.reshape(t.sliceRows(captions, start: j, count: 1), [lmax, d])
            let cap = t.sliceRows(capRow, start: 0, count: n)                  // [n, d]
            let capGlo = t.sliceRows(captionGlobal, start: j, count: 1)        // [1, d]
            let imgs: Var, glo: Var
            switch pairs {
            case .all: imgs = images; glo = imageGlobal
            case .diagonal: imgs = t.sliceRows(images, start: j, count: 1); glo = t.sliceRows(imageGlobal, start: j, count: 1)
            }
            let k = pairs == .all ? bi : 1
            blocks.append(pairBlock(t, imgs: imgs, imgGlo: glo, cap: cap, capGlo: capGlo, k: k, n: n, p: p, c: c,
                                    safBN: &safBN, training: training, updateStats: updateStats))
        }
        let stacked = t.concatRows(blocks)  // [Bc·k, s] caption-major
        guard pairs == .all else { return stacked }
        // Reorder caption-major [j, i] into pair p = i·Bc + j.
        let s = c.simDim
        return t.reshape(t.permute01(t.reshape(stacked, [bc, bi, s])), [bi * bc, s])
    }

    func pairBlock(_ t: Tape, imgs: Var, imgGlo: Var, cap: Var, capGlo: Var, k: Int, n: Int, p: [String: Var], c: ModelConfig,
                   safBN: inout BatchNormBuffers?, training: Bool, updateStats: Bool) -> Var {
        func w(_ name: String) -> Var { guard let v = p[name] else { preconditionFailure("missing parameter \(name)") }; return v }
        let d = c.embedDim
        let capExp = t.repeatFirst(cap, k)                                   // [k, n, d]
        // SCAN attention of words over regions.
        var attn = t.bmm(imgs, capExp, transB: true)                         // [k, R, n]
        attn = t.l2norm(t.leakyReLU(attn, slope: 0.1))
        attn = t.softmax(t.scale(t.transposeLast2(attn), 9))                 // [k, n, R]
        var context = t.bmm(attn, imgs)                                      // [k, n, d]
        context = t.l2norm(context)
        let simLoc = t.l2norm(t.linear(t.square(t.subBroadcast(context, cap)), w("sim_enc.sim_tranloc_w.weight"), w("sim_enc.sim_tranloc_w.bias")))
        let capGloFlat = t.reshape(capGlo, [d])
        let simGlo = t.l2norm(t.linear(t.square(t.subBroadcast(imgGlo, capGloFlat)), w("sim_enc.sim_tranglo_w.weight"), w("sim_enc.sim_tranglo_w.bias")))
        let s = c.simDim
        var emb = t.concatMiddle([t.reshape(simGlo, [k, 1, s]), simLoc])    // [k, n+1, s]
        switch c.variant {
        case .sgr:
            for i in 0..<c.sgrSteps {
                let pre = "sim_enc.SGR_module.\(i)."
                let q = t.linear(emb, w(pre + "graph_query_w.weight"), w(pre + "graph_query_w.bias"))
                let key = t.linear(emb, w(pre + "graph_key_w.weight"), w(pre + "graph_key_w.bias"))
                let edge = t.softmax(t.bmm(q, key, transB: true))
                emb = t.relu(t.linear(t.bmm(edge, emb), w(pre + "sim_graph_w.weight"), w(pre + "sim_graph_w.bias")))
            }
            return t.selectMiddle(emb, 0)
        case .saf:
            let a = t.reshape(t.linear(emb, w("sim_enc.SAF_module.attn_sim_w.weight"), w("sim_enc.SAF_module.attn_sim_w.bias")), [k, 1, n + 1])
            var buf = safBN ?? BatchNormBuffers(channels: 1)
            let normed = t.batchNorm(a, weight: w("sim_enc.SAF_module.bn.weight"), bias: w("sim_enc.SAF_module.bn.bias"),
                                     buffers: &buf, training: training, update: updateStats)
            safBN = buf
            let alpha = t.l1norm(t.sigmoid(normed))                          // [k, 1, n+1]
            return t.l2norm(t.reshape(t.bmm(alpha, emb), [k, s]))
        }
    }
}
