/// Forward-mode rule of the bidirectional GRU: the tangent of each step's state, pushed through
/// the recurrence with the gate activations the forward kept (`GRUCache`).
extension Tape {
    func biGRUTangent(_ x: Var, _ lengths: [Int], _ fw: GRUWeights, _ bw: GRUWeights, _ cacheF: GRUCache, _ cacheB: GRUCache,
                      batch: Int, steps: Int, w: Int, h: Int) -> [Float]? {
        let (f, b) = ParallelRows.both(
            { self.gruDirectionTangent(x, lengths, fw, cacheF, reverse: false, batch: batch, steps: steps, w: w, h: h) },
            { self.gruDirectionTangent(x, lengths, bw, cacheB, reverse: true, batch: batch, steps: steps, w: w, h: h) })
        guard f != nil || b != nil else { return nil }
        let zeros = [Float](repeating: 0, count: batch * steps * h)
        let tf = f ?? zeros, tb = b ?? zeros
        return (0..<tf.count).map { (tf[$0] + tb[$0]) / 2 }
    }

    /// One direction: with pre-activations `a_r = xi_r + gh_r + b_hr` (likewise z) and
    /// `n = tanh(xi_n + r·ghn)`, `ghn = gh_n + b_hn`, `h = (1 − z)·n + z·h_prev`:
    /// `ṙ = r(1−r)·ȧ_r`, `ż = z(1−z)·ȧ_z`, `ṅ = (1−n²)(ẋi_n + ṙ·ghn + r·ġhn)`,
    /// `ḣ = (1−z)·ṅ − ż·n + ż·h_prev + z·ḣ_prev`, where `ẋi = ẋ·W_ihᵀ + x·Ẇ_ihᵀ + ḃ_ih` and
    /// `ġh = ḣ_prev·W_hhᵀ + h_prev·Ẇ_hhᵀ`.
    func gruDirectionTangent(_ x: Var, _ lengths: [Int], _ p: GRUWeights, _ cache: GRUCache, reverse: Bool,
                             batch: Int, steps: Int, w: Int, h: Int) -> [Float]? {
        let tIh = tangent(of: p.ih), tHh = tangent(of: p.hh), tBih = tangent(of: p.bih), tBhh = tangent(of: p.bhh)
        let tx = tangent(of: x)
        guard tx != nil || tIh != nil || tHh != nil || tBih != nil || tBhh != nil else { return nil }
        precondition(!cache.r.isEmpty, "GRU tangent needs the forward's gate activations (an input must need a gradient)")
        let h3 = 3 * h, rows = batch * steps
        var txi = [Float](repeating: 0, count: rows * h3)
        if let tx { BLAS.matmulAdd(tx, values[p.ih.id], into: &txi, m: rows, n: h3, k: w, transB: true) }
        if let tIh { BLAS.matmulAdd(values[x.id], tIh, into: &txi, m: rows, n: h3, k: w, transB: true) }
        if let tBih { for r in 0..<rows { for c in 0..<h3 { txi[r * h3 + c] += tBih[c] } } }
        let whh = values[p.hh.id]
        let tbhh = tBhh ?? [Float](repeating: 0, count: h3)
        var out = [Float](repeating: 0, count: rows * h)
        var tstate = [Float](repeating: 0, count: batch * h)
        for k in 0..<steps {
            let active = (0..<batch).filter { lengths[$0] > k }
            if active.isEmpty { break }
            var th = [Float](repeating: 0, count: active.count * h), hp = th
            for (a, b) in active.enumerated() {
                let pos = reverse ? lengths[b] - 1 - k : k
                for c in 0..<h { th[a * h + c] = tstate[b * h + c]; hp[a * h + c] = cache.hprev[(b * steps + pos) * h + c] }
            }
            var tgh = BLAS.matmul(th, whh, m: active.count, n: h3, k: h, transB: true)
            if let tHh { BLAS.matmulAdd(hp, tHh, into: &tgh, m: active.count, n: h3, k: h, transB: true) }
            for (a, b) in active.enumerated() {
                let pos = reverse ? lengths[b] - 1 - k : k
                let row = b * steps + pos
                for c in 0..<h {
                    let q = row * h + c
                    let r = cache.r[q], z = cache.z[q], n = cache.n[q]
                    let dr = r * (1 - r) * (txi[row * h3 + c] + tgh[a * h3 + c] + tbhh[c])
                    let dz = z * (1 - z) * (txi[row * h3 + h + c] + tgh[a * h3 + h + c] + tbhh[h + c])
                    let dghn = tgh[a * h3 + 2 * h + c] + tbhh[2 * h + c]
                    let dn = (1 - n * n) * (txi[row * h3 + 2 * h + c] + dr * cache.ghn[q] + r * dghn)
                    let dh = (1 - z) * dn - dz * n + dz * hp[a * h + c] + z * th[a * h + c]
                    out[q] = dh
                    tstate[b * h + c] = dh
                }
            }
        }
        return out
    }
}
