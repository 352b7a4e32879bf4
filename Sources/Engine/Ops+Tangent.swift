/// Forward-mode rules of the ops that are neither linear nor bilinear in their inputs (those use
/// `tangentOfLinear` / `tangentOfBilinear`, i.e. their own forward code). Each is checked against
/// central differences in `TangentTests`.
extension Tape {
    /// `x / (‖x‖ + eps)` per row: `ẏ = ẋ/d − x·ṡ/d²`, `ṡ = x·ẋ/s` (l2) or `sign(x)·ẋ` (l1),
    /// `d = s + eps`; a zero row stays zero (ṡ = 0, as the backward's convention).
    func tangentNormalize(_ x: Var, norms: [Float], eps: Float, l1: Bool, n: Int) -> [Float]? {
        guard let tx = tangent(of: x) else { return nil }
        let xv = values[x.id]
        var out = tx
        for r in 0..<norms.count {
            let s = norms[r], d = s + eps
            var sd: Float = 0
            for c in 0..<n {
                let xi = xv[r * n + c]
                sd += (l1 ? (xi > 0 ? 1 : (xi < 0 ? -1 : 0)) : (s > 0 ? xi / s : 0)) * tx[r * n + c]
            }
            for c in 0..<n { out[r * n + c] = tx[r * n + c] / d - xv[r * n + c] * sd / (d * d) }
        }
        return out
    }

    /// Softmax per row: `ẏ = y ⊙ (ẋ − y·ẋ)`.
    func tangentSoftmax(_ x: Var, y: [Float], n: Int) -> [Float]? {
        guard let tx = tangent(of: x) else { return nil }
        var out = tx
        for r in 0..<(y.count / max(n, 1)) {
            var dot: Float = 0
            for c in 0..<n { dot += y[r * n + c] * tx[r * n + c] }
            for c in 0..<n { out[r * n + c] = y[r * n + c] * (tx[r * n + c] - dot) }
        }
        return out
    }

    /// BatchNorm over `[n, C, l]`: `ẏ = γ̇·x̂ + β̇ + γ·x̂̇` with, in training,
    /// `x̂̇ = σ⁻¹(ẋ − mean(ẋ) − x̂·mean(x̂·ẋ))` (the batch statistics move with x), in evaluation
    /// `x̂̇ = σ⁻¹·ẋ`.
    func tangentBatchNorm(_ x: Var, weight: Var, bias: Var, xhat: [Float], invStd: [Float],
                          n: Int, c: Int, l: Int, training: Bool) -> [Float]? {
        let tx = tangent(of: x), tg = tangent(of: weight), tb = tangent(of: bias)
        guard tx != nil || tg != nil || tb != nil else { return nil }
        let gv = values[weight.id]
        var out = [Float](repeating: 0, count: n * c * l)
        var meanT = [Double](repeating: 0, count: c), meanXT = [Double](repeating: 0, count: c)
        if let tx, training {
            tx.withUnsafeBufferPointer { txb in
                xhat.withUnsafeBufferPointer { hb in
                    guard let t = txb.baseAddress, let h = hb.baseAddress else { return }
                    meanT = channelSums(n: n, c: c, l: l) { k, _ in Double(t[k]) }.map { $0 / Double(n * l) }
                    meanXT = channelSums(n: n, c: c, l: l) { k, _ in Double(h[k] * t[k]) }.map { $0 / Double(n * l) }
                }
            }
        }
        for i in 0..<n { for ch in 0..<c {
            let base = (i * c + ch) * l
            let mT = Float(meanT[ch]), mXT = Float(meanXT[ch])
            for j in 0..<l {
                let k = base + j
                var v: Float = 0
                if let tx { v += gv[ch] * invStd[ch] * (tx[k] - mT - xhat[k] * mXT) }
                if let tg { v += tg[ch] * xhat[k] }
                if let tb { v += tb[ch] }
                out[k] = v
            }
        } }
        return out
    }
}

extension Tape {
    /// `y = x·Wᵀ + b`: `ẏ = ẋ·Wᵀ + x·Ẇᵀ + ḃ`.
    func tangentLinearOp(_ x: Var, _ w: Var, _ b: Var?) -> [Float]? {
        let tb = b.flatMap { tangent(of: $0) }
        var r = tangentOfBilinear(x, w) { s, p, q in s.linear(p, q, nil) }
        guard let tb else { return r }
        let outF = tb.count, rows = values[x.id].count / max(shapes[w.id][1], 1)
        var y = r ?? [Float](repeating: 0, count: rows * outF)
        for i in 0..<rows { for o in 0..<outF { y[i * outF + o] += tb[o] } }
        r = y
        return r
    }
}
