extension Tape {
    /// `y = x · Wᵀ + b` over the last axis: x `[..., in]`, W `[out, in]` (PyTorch layout), b `[out]`.
    public func linear(_ x: Var, _ w: Var, _ b: Var?) -> Var {
        let xs = shape(x), ws = shape(w)
        precondition(ws.count == 2 && xs.last == ws[1], "linear: x \(xs) vs W \(ws)")
        let outF = ws[0], inF = ws[1], rows = values[x.id].count / inF
        let y = b.map { BLAS.linear(values[x.id], values[w.id], bias: values[$0.id], m: rows, n: outF, k: inF) }
            ?? BLAS.matmul(values[x.id], values[w.id], m: rows, n: outF, k: inF, transB: true)
        let inputs = [x, w] + (b.map { [$0] } ?? [])
        return record(y, shape: Array(xs.dropLast()) + [outF], requiresGrad: anyNeedsGrad(inputs),
                      tangent: { $0.tangentLinearOp(x, w, b) }) { t, g in
            // The two products are independent: large ones run at once, each still adds in turn.
            let wantX = t.needsGrad(x), wantW = t.needsGrad(w)
            let wv = t.values[w.id], xv = t.values[x.id]
            func dX() -> [Float] { BLAS.matmul(g, wv, m: rows, n: inF, k: outF) }
            func dW() -> [Float] { BLAS.matmul(g, xv, m: outF, n: inF, k: rows, transA: true) }
            if wantX && wantW && rows * inF * outF >= ParallelRows.minimumProductWork {
                let (gx, gw) = ParallelRows.both(dX, dW)
                t.accumulate(x, gx)
                t.accumulate(w, gw)
            } else {
                if wantX { t.accumulate(x, dX()) }
                if wantW { t.accumulate(w, dW()) }
            }
            if let b, t.needsGrad(b) {
                // Summed in Double: bias gradients are often sums of cancelling terms.
                var db = [Double](repeating: 0, count: outF)
                for r in 0..<rows { for o in 0..<outF { db[o] += Double(g[r * outF + o]) } }
                t.accumulate(b, db.map { Float($0) })
            }
        }
    }

    /// Batched matrix product: a `[n, p, q]`, b `[n, q, r]` → `[n, p, r]` (optionally transposing
    /// b's last two axes: b `[n, r, q]`).
    public func bmm(_ a: Var, _ b: Var, transB: Bool = false) -> Var {
        let sa = shape(a), sb = shape(b)
        precondition(sa.count == 3 && sb.count == 3 && sa[0] == sb[0], "bmm: \(sa) vs \(sb)")
        let n = sa[0], p = sa[1], q = sa[2]
        let r = transB ? sb[1] : sb[2]
        precondition((transB ? sb[2] : sb[1]) == q, "bmm inner sizes: \(sa) vs \(sb)")
        var y = [Float](repeating: 0, count: n * p * r)
        let av = values[a.id], bv = values[b.id]
        av.withUnsafeBufferPointer { ap in bv.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
            for i in 0..<n {
                BLAS.gemm(ap.baseAddress! + i * p * q, bp.baseAddress! + i * q * r, yp.baseAddress! + i * p * r,
                          m: p, n: r, k: q, transB: transB)
            }
        } } }
        return record(y, shape: [n, p, r], requiresGrad: anyNeedsGrad([a, b]),
                      tangent: { $0.tangentOfBilinear(a, b) { s, p, q in s.bmm(p, q, transB: transB) } }) { t, g in
            let av = t.values[a.id], bv = t.values[b.id]
            if t.needsGrad(a) {
                var da = [Float](repeating: 0, count: n * p * q)
                g.withUnsafeBufferPointer { gp in bv.withUnsafeBufferPointer { bp in da.withUnsafeMutableBufferPointer { dp in
                    for i in 0..<n {
                        // da = g · bᵀ (b [q,r]) or g · b (b stored [r,q])
                        BLAS.gemm(gp.baseAddress! + i * p * r, bp.baseAddress! + i * q * r, dp.baseAddress! + i * p * q,
                                  m: p, n: q, k: r, transB: !transB)
                    }
                } } }
                t.accumulate(a, da)
            }
            if t.needsGrad(b) {
                var db = [Float](repeating: 0, count: n * q * r)
                g.withUnsafeBufferPointer { gp in av.withUnsafeBufferPointer { ap in db.withUnsafeMutableBufferPointer { dp in
                    for i in 0..<n {
                        if transB { // db [r,q] = gᵀ [r,p] · a [p,q]
                            BLAS.gemm(gp.baseAddress! + i * p * r, ap.baseAddress! + i * p * q, dp.baseAddress! + i * q * r,
                                      m: r, n: q, k: p, transA: true)
                        } else { // db [q,r] = aᵀ [q,p] · g [p,r]
                            BLAS.gemm(ap.baseAddress! + i * p * q, gp.baseAddress! + i * p * r, dp.baseAddress! + i * q * r,
                                      m: q, n: r, k: p, transA: true)
                        }
                    }
                } } }
                t.accumulate(b, db)
            }
        }
    }
}
