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
        var xhat = xv, y = xv
        xv.withUnsafeBufferPointer { xb in
            guard let x = xb.baseAddress else { return }
            if training {
                let s1 = channelSums(n: n, c: c, l: l) { k, _ in Double(x[k]) }
                let mu = s1.map { $0 / Double(m) }
                let s2 = mu.withUnsafeBufferPointer { mub in
                    channelSums(n: n, c: c, l: l) { k, ch in let d = Double(x[k]) - mub[ch]; return d * d }
                }
                for ch in 0..<c {
                    let v = s2[ch] / Double(m)
                    mean[ch] = Float(mu[ch])
                    invStd[ch] = Float(1 / (v + Double(buffers.eps)).squareRoot())
                    if update {
                        let unbiased = m > 1 ? s2[ch] / Double(m - 1) : v
                        let mom = buffers.momentum
                        buffers.runningMean[ch] = (1 - mom) * buffers.runningMean[ch] + mom * Float(mu[ch])
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
            xhat.withUnsafeMutableBufferPointer { hb in
                y.withUnsafeMutableBufferPointer { yb in
                    guard let h = hb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<n { for ch in 0..<c {
                        let mc = mean[ch], ic = invStd[ch], gc = gv[ch], bc = bv[ch], base = (i * c + ch) * l
                        for j in 0..<l {
                            let xh = (x[base + j] - mc) * ic
                            h[base + j] = xh
                            yp[base + j] = gc * xh + bc
                        }
                    } }
                }
            }
        }
        return record(y, shape: s, requiresGrad: anyNeedsGrad([x, weight, bias]),
                      tangent: { $0.tangentBatchNorm(x, weight: weight, bias: bias, xhat: xhat, invStd: invStd, n: n, c: c, l: l, training: training) }) { t, g in
            let gv = t.values[weight.id]
            var dgamma = [Double](repeating: 0, count: c), dbeta = [Double](repeating: 0, count: c)
            var dx = g
            g.withUnsafeBufferPointer { gb in
                xhat.withUnsafeBufferPointer { hb in
                    guard let gp = gb.baseAddress, let h = hb.baseAddress else { return }
                    dgamma = channelSums(n: n, c: c, l: l) { k, _ in Double(gp[k] * h[k]) }
                    dbeta = channelSums(n: n, c: c, l: l) { k, _ in Double(gp[k]) }
                    guard t.needsGrad(x) else { return }
                    dx.withUnsafeMutableBufferPointer { db in
                        guard let d = db.baseAddress else { return }
                        for i in 0..<n { for ch in 0..<c {
                            let base = (i * c + ch) * l
                            if training {
                                // γ/σ · (g − mean(g) − x̂ · mean(g·x̂)), the batch statistics depending on x.
                                let scale = gv[ch] * invStd[ch]
                                let mg = Float(dbeta[ch] / Double(m)), mgx = Float(dgamma[ch] / Double(m))
                                for j in 0..<l { d[base + j] = scale * (gp[base + j] - mg - h[base + j] * mgx) }
                            } else {
                                for j in 0..<l { d[base + j] = gp[base + j] * gv[ch] * invStd[ch] }
                            }
                        }
                    } }
                }
            }
            t.accumulate(weight, dgamma.map { Float($0) })
            t.accumulate(bias, dbeta.map { Float($0) })
            guard t.needsGrad(x) else { return }
            t.accumulate(x, dx)
        }
    }
}
