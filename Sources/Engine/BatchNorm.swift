/// Running statistics of a BatchNorm1d, kept as PyTorch keeps them.
public struct BatchNormBuffers: Equatable, Sendable {
    public var runningMean: [Float]
    public var runningVar: [Float]
    public var numBatchesTracked: Int
    public var momentum: Float
    public var eps: Float

    public init(channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        runningMean = [Float](repeating: 0, count: channels)
        runningVar = [Float](repeating: 1, count: channels)
        numBatchesTracked = 0
        self.momentum = momentum
        self.eps = eps
    }
}

extension Tape {
    /// BatchNorm1d over x viewed as `[n, C, l]` (channel axis 1; statistics per channel over n·l).
    ///
    /// Training: normalises with the biased batch variance and, when `update` is true, moves the
    /// running mean and the unbiased running variance by `momentum` and counts the batch.
    /// Evaluation: normalises with the running statistics.
    public func batchNorm(_ x: Var, weight: Var, bias: Var, buffers: inout BatchNormBuffers,
                          training: Bool, update: Bool) -> Var {
        let s = shape(x)
        let n = s[0], c = s[1], l = s.count > 2 ? s[2...].reduce(1, *) : 1
        precondition(values[weight.id].count == c, "batchNorm: \(c) channels, weight \(values[weight.id].count)")
        let xv = values[x.id], gv = values[weight.id], bv = values[bias.id]
        let m = n * l
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        if training {
            for ch in 0..<c {
                var s1 = 0.0
                for i in 0..<n { for j in 0..<l { s1 += Double(xv[(i * c + ch) * l + j]) } }
                let mu = s1 / Double(m)
                var s2 = 0.0
                for i in 0..<n { for j in 0..<l { let d = Double(xv[(i * c + ch) * l + j]) - mu; s2 += d * d } }
                let v = s2 / Double(m)
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (v + Double(buffers.eps)).squareRoot())
                if update {
                    let unbiased = m > 1 ? s2 / Double(m - 1) : v
                    let mom = buffers.momentum
                    buffers.runningMean[ch] = (1 - mom) * buffers.runningMean[ch] + mom * Float(mu)
                    buffers.runningVar[ch] = (1 - mom) * buffers.runningVar[ch] + mom * Float(unbiased)
                }
            }
            if update { buffers.numBatchesTracked += 1 }
        } else {
            for ch in 0..<c {
                mean[ch] = buffers.runningMean[ch]
                invStd[ch] = 1 / (buffers.runningVar[ch] + buffers.eps).squareRoot()
            }
        }
        var xhat = xv, y = xv
        for i in 0..<n { for ch in 0..<c { for j in 0..<l {
            let k = (i * c + ch) * l + j
            xhat[k] = (xv[k] - mean[ch]) * invStd[ch]
            y[k] = gv[ch] * xhat[k] + bv[ch]
        } } }
        return record(y, shape: s, requiresGrad: anyNeedsGrad([x, weight, bias]),
                      tangent: { $0.tangentBatchNorm(x, weight: weight, bias: bias, xhat: xhat, invStd: invStd, n: n, c: c, l: l, training: training) }) { t, g in
            let gv = t.values[weight.id]
            var dgamma = [Double](repeating: 0, count: c), dbeta = [Double](repeating: 0, count: c)
            for i in 0..<n { for ch in 0..<c { for j in 0..<l {
                let k = (i * c + ch) * l + j
                dgamma[ch] += Double(g[k] * xhat[k]); dbeta[ch] += Double(g[k])
            } } }
            t.accumulate(weight, dgamma.map { Float($0) })
            t.accumulate(bias, dbeta.map { Float($0) })
            guard t.needsGrad(x) else { return }
            var dx = g
            for i in 0..<n { for ch in 0..<c { for j in 0..<l {
                let k = (i * c + ch) * l + j
                if training {
                    // γ/σ · (g − mean(g) − x̂ · mean(g·x̂)), the batch statistics depending on x.
                    dx[k] = gv[ch] * invStd[ch] * (g[k] - Float(dbeta[ch] / Double(m)) - xhat[k] * Float(dgamma[ch] / Double(m)))
                } else {
                    dx[k] = g[k] * gv[ch] * invStd[ch]
                }
            } } }
            t.accumulate(x, dx)
        }
    }
}
