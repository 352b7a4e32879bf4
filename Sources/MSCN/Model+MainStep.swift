import Engine

extension Model {
    /// The main update alone (training loss, clip, Adam on θ; φ untouched): the steps between
    /// meta steps when `meta_interval` > 1.
    @discardableResult
    public func mainStep(_ batch: PairBatch, lr: Float) -> Float {
        precondition(batch.images.count >= 2, "mainStep: a batch needs at least 2 pairs (drop a final batch of 1)")
        let d = freshDropout()
        let g = graph(training: true, updateStats: true, netGrads: true, metaGrads: false, dropout: d)
        commit(d)
        let loss = g.tape.sum(Losses.train(g.tape, scores: allScores(g, batch), margin: config.margin))
        g.tape.backward(loss)
        buffers = g.buffers
        var grads = g.netGrads()
        clipGradNorm(&grads, maxNorm: config.gradClip)
        for name in net.names { applyAdam(&netAdam, &net, name, grads[name], lr) }
        return g.tape.value(loss)[0]
    }
}

extension Model {
    /// A step of the uncorrected baseline after its warm-up: the warm-up loss (sum of means) on
    /// θ only — the meta net is no longer updated — clipped and applied with Adam.
    @discardableResult
    public func baselineStep(_ batch: PairBatch, lr: Float) -> Float {
        precondition(batch.images.count >= 2, "baselineStep: a batch needs at least 2 pairs (drop a final batch of 1)")
        let d = freshDropout()
        let g = graph(training: true, updateStats: true, netGrads: true, metaGrads: false, dropout: d)
        commit(d)
        let loss = g.tape.sum(Losses.warmup(g.tape, scores: allScores(g, batch), margin: config.margin))
        g.tape.backward(loss)
        buffers = g.buffers
        var grads = g.netGrads()
        clipGradNorm(&grads, maxNorm: config.gradClip)
        for name in net.names { applyAdam(&netAdam, &net, name, grads[name], lr) }
        return g.tape.value(loss)[0]
    }
}
