import Engine

/// One recorded forward pass of a main net and its meta net on a tape.
///
/// Owns a copy of the batch-norm buffers; `updateStats` decides whether training-mode batch
/// norms move them (the caller copies them back when it wants the update kept).
public final class NetGraph {
    public let tape = Tape()
    public let config: ModelConfig
    public private(set) var net: [String: Var] = [:]
    public private(set) var meta: [String: Var] = [:]
    public var buffers: [String: BatchNormBuffers]
    public let training: Bool
    public let updateStats: Bool
    public let dropout: DropoutSource?
    let similarity: SimilarityBackend

    public init(config: ModelConfig, net netParams: NamedTensors, meta metaParams: NamedTensors,
                buffers: [String: BatchNormBuffers], training: Bool, updateStats: Bool,
                netGrads: Bool, metaGrads: Bool, dropout: DropoutSource?, similarity: SimilarityBackend) {
        self.config = config
        self.buffers = buffers
        self.training = training
        self.updateStats = updateStats
        self.dropout = training ? dropout : nil
        self.similarity = similarity
        for n in netParams.names { if let t = netParams[n] { net[n] = tape.leaf(t, requiresGrad: netGrads) } }
        for n in metaParams.names { if let t = metaParams[n] { meta[n] = tape.leaf(t, requiresGrad: metaGrads) } }
    }

    func p(_ name: String) -> Var {
        guard let v = net[name] ?? meta[name] else { preconditionFailure("missing parameter \(name)") }
        return v
    }

    var dropP: Float { training ? config.dropout : 0 }

    /// `l2norm(Linear(regions))` → `[B, R, d]`.
    public func encodeImages(_ x: ImageBatch) -> Var {
        let v = tape.leaf(x.features, shape: [x.count, x.regions, x.dim], requiresGrad: false)
        return tape.l2norm(tape.linear(v, p("img_enc.fc.weight"), p("img_enc.fc.bias")))
    }

    /// Embedding → dropout → bidirectional GRU → mean of directions → l2norm → `[B, Lmax, d]`.
    public func encodeCaptions(_ c: CaptionBatch) -> Var {
        let l = c.maxLength
        var x = tape.gather(p("txt_enc.embed.weight"), ids: c.padded)
        x = tape.reshape(x, [c.count, l, config.wordDim])
        x = tape.dropout(x, p: dropP, source: dropout)
        func dir(_ s: String) -> GRUWeights {
            GRUWeights(ih: p("txt_enc.cap_rnn.weight_ih_l0\(s)"), hh: p("txt_enc.cap_rnn.weight_hh_l0\(s)"),
                       bih: p("txt_enc.cap_rnn.bias_ih_l0\(s)"), bhh: p("txt_enc.cap_rnn.bias_hh_l0\(s)"))
        }
        return tape.l2norm(tape.biGRU(x, lengths: c.lengths, forward: dir(""), backward: dir("_reverse")))
    }

    /// VisualSA: attention-weighted, l2-normalised mean of the regions → `[B, d]`.
    public func visualGlobal(_ v: Var) -> Var {
        let t = tape
        let b = t.shape(v)[0], r = t.shape(v)[1]
        let pre = "sim_enc.v_global_w."
        var l = t.linear(v, p(pre + "embedding_local.0.weight"), p(pre + "embedding_local.0.bias"))
        l = batchNorm(l, pre + "embedding_local.1")                    // channels = regions
        l = t.dropout(t.tanh(l), p: dropP, source: dropout)
        var g = t.linear(t.meanMiddle(v), p(pre + "embedding_global.0.weight"), p(pre + "embedding_global.0.bias"))
        g = batchNorm(g, pre + "embedding_global.1")
        g = t.dropout(t.tanh(g), p: dropP, source: dropout)
        let common = t.mulBroadcastMiddle(l, g, middle: r)
        let w = t.softmax(t.reshape(t.linear(common, p(pre + "embedding_common.0.weight"), p(pre + "embedding_common.0.bias")), [b, r]))
        return t.l2norm(t.weightedSumMiddle(v, w))
    }

    /// TextSA over each caption's own words → `[B, d]`.
    public func textGlobal(_ e: Var, lengths: [Int]) -> Var {
        let t = tape
        let l = t.shape(e)[1], d = config.embedDim
        let pre = "sim_enc.t_global_w."
        var rows: [Var] = []
        for (j, n) in lengths.enumerated() {
            let words = t.reshape(t.sliceRows(t.reshape(t.sliceRows(e, start: j, count: 1), [l, d]), start: 0, count: n), [1, n, d])
            var loc = t.linear(words, p(pre + "embedding_local.0.weight"), p(pre + "embedding_local.0.bias"))
            loc = t.dropout(t.tanh(loc), p: dropP, source: dropout)
            var g = t.linear(t.meanMiddle(words), p(pre + "embedding_global.0.weight"), p(pre + "embedding_global.0.bias"))
            g = t.dropout(t.tanh(g), p: dropP, source: dropout)
            let common = t.mulBroadcastMiddle(loc, g, middle: n)
            let w = t.softmax(t.reshape(t.linear(common, p(pre + "embedding_common.0.weight"), p(pre + "embedding_common.0.bias")), [1, n]))
            rows.append(t.l2norm(t.weightedSumMiddle(words, w)))
        }
        return t.concatRows(rows)
    }

    func batchNorm(_ x: Var, _ name: String) -> Var {
        var buf = buffers[name] ?? BatchNormBuffers(channels: tape.shape(x)[1], momentum: config.bnMomentum, eps: config.bnEps)
        let y = tape.batchNorm(x, weight: p(name + ".weight"), bias: p(name + ".bias"), buffers: &buf,
                               training: training, update: updateStats)
        buffers[name] = buf
        return y
    }

    /// Similarity vectors `[P, s]` of the encoded batch.
    public func simVectors(images v: Var, captions e: Var, lengths: [Int], pairs: PairMode) -> Var {
        let vg = visualGlobal(v)
        let tg = textGlobal(e, lengths: lengths)
        var saf = buffers["sim_enc.SAF_module.bn"]
        let out = similarity.simVectors(tape: tape, images: v, imageGlobal: vg, captions: e, lengths: lengths, captionGlobal: tg,
                                        params: net, config: config, safBN: &saf, pairs: pairs, training: training,
                                        updateStats: updateStats)
        if let saf { buffers["sim_enc.SAF_module.bn"] = saf }
        return out
    }

    /// The meta similarity net: `sigmoid(Linear(ReLU(Linear(simVec))))` → `[P, 1]`.
    public func metaScores(_ sim: Var) -> Var {
        let h = tape.relu(tape.linear(sim, p("first_hidden_layer.fc.weight"), p("first_hidden_layer.fc.bias")))
        return tape.sigmoid(tape.linear(h, p("output_layer.weight"), p("output_layer.bias")))
    }

    /// Score matrix `[Bi, Bc]` (all pairs) or the diagonal `[B, 1]`.
    public func scores(images v: Var, captions e: Var, lengths: [Int], pairs: PairMode) -> Var {
        let s = metaScores(simVectors(images: v, captions: e, lengths: lengths, pairs: pairs))
        if pairs == .all { return tape.reshape(s, [tape.shape(v)[0], lengths.count]) }
        return s
    }

    /// Gradients of the main net's parameters after `tape.backward`.
    public func netGrads() -> [String: [Float]] { net.mapValues { tape.grad($0) } }
    public func metaGrads() -> [String: [Float]] { meta.mapValues { tape.grad($0) } }
}
