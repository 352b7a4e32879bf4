extension Tape {
    /// Reinterprets the values with a new shape of the same size.
    public func reshape(_ x: Var, _ s: [Int]) -> Var {
        precondition(s.reduce(1, *) == values[x.id].count, "reshape \(shape(x)) → \(s)")
        return record(values[x.id], shape: s, requiresGrad: needsGrad(x),
                      tangent: { $0.tangent(of: x) }) { t, g in t.accumulate(x, g) }
    }

    /// Rows `table[ids[i]]` of a `[V, w]` table → `[ids.count, w]` (an embedding lookup).
    public func gather(_ table: Var, ids: [Int]) -> Var {
        let w = shape(table)[1], tv = values[table.id]
        var y = [Float](repeating: 0, count: ids.count * w)
        for (i, id) in ids.enumerated() { for c in 0..<w { y[i * w + c] = tv[id * w + c] } }
        return record(y, shape: [ids.count, w], requiresGrad: needsGrad(table),
                      tangent: { $0.tangentOfLinear([table]) { s, v in s.gather(v[0], ids: ids) } }) { t, g in
            var dt = [Float](repeating: 0, count: t.values[table.id].count)
            for (i, id) in ids.enumerated() { for c in 0..<w { dt[id * w + c] += g[i * w + c] } }
            t.accumulate(table, dt)
        }
    }

    /// Mean over the middle axis of `[n, m, k]`, using only the first `counts[i]` of the m rows
    /// of item i (all m when `counts` is nil) → `[n, k]`.
    public func meanMiddle(_ x: Var, counts: [Int]? = nil) -> Var {
        let s = shape(x)
        let n = s[0], m = s[1], k = s[2], xv = values[x.id]
        var y = [Float](repeating: 0, count: n * k)
        // Raw pointers: the loops over q vectorise (each element still sums its rows j in order).
        xv.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                for i in 0..<n {
                    let c = counts?[i] ?? m
                    for j in 0..<c { for q in 0..<k { yb[i * k + q] += xb[(i * m + j) * k + q] } }
                    for q in 0..<k { yb[i * k + q] /= Float(c) }
                }
            }
        }
        return record(y, shape: [n, k], requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.meanMiddle(v[0], counts: counts) } }) { t, g in
            var dx = [Float](repeating: 0, count: n * m * k)
            g.withUnsafeBufferPointer { gb in
                dx.withUnsafeMutableBufferPointer { db in
                    for i in 0..<n {
                        let c = counts?[i] ?? m
                        for j in 0..<c { for q in 0..<k { db[(i * m + j) * k + q] = gb[i * k + q] / Float(c) } }
                    }
                }
            }
            t.accumulate(x, dx)
        }
    }

    /// `Σ_j w[i, j] · x[i, j, :]`: x `[n, m, k]`, w `[n, m]` → `[n, k]`.
    public func weightedSumMiddle(_ x: Var, _ w: Var) -> Var {
        let s = shape(x)
        let n = s[0], m = s[1], k = s[2]
        let xv = values[x.id], wv = values[w.id]
        var y = [Float](repeating: 0, count: n * k)
        xv.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                for i in 0..<n { for j in 0..<m { let a = wv[i * m + j]; for q in 0..<k { yb[i * k + q] += a * xb[(i * m + j) * k + q] } } }
            }
        }
        return record(y, shape: [n, k], requiresGrad: anyNeedsGrad([x, w]),
                      tangent: { $0.tangentOfBilinear(x, w) { s, p, q in s.weightedSumMiddle(p, q) } }) { t, g in
            let xv = t.values[x.id], wv = t.values[w.id]
            g.withUnsafeBufferPointer { gb in
                if t.needsGrad(x) {
                    var dx = [Float](repeating: 0, count: n * m * k)
                    dx.withUnsafeMutableBufferPointer { db in
                        for i in 0..<n { for j in 0..<m { let a = wv[i * m + j]; for q in 0..<k { db[(i * m + j) * k + q] = a * gb[i * k + q] } } }
                    }
                    t.accumulate(x, dx)
                }
                if t.needsGrad(w) {
                    // Each weight's dot over q in order; the m rows of an item side by side in lanes.
                    var dw = [Float]()
                    dw.reserveCapacity(n * m)
                    xv.withUnsafeBufferPointer { xb in
                        for i in 0..<n { dw += rowSums(rows: m, n: k) { j, q in gb[i * k + q] * xb[(i * m + j) * k + q] } }
                    }
                    t.accumulate(w, dw)
                }
            }
        }
    }

    /// Rows `[start, start+count)` of the first axis of x `[n, ...]`.
    public func sliceRows(_ x: Var, start: Int, count: Int) -> Var {
        let s = shape(x), inner = values[x.id].count / max(s[0], 1)
        let y = Array(values[x.id][(start * inner)..<((start + count) * inner)])
        return record(y, shape: [count] + s.dropFirst(), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.sliceRows(v[0], start: start, count: count) } }) { t, g in
            t.accumulate(x, at: start * inner, g)
        }
    }

    /// Concatenates along the first axis (all other axes equal).
    public func concatRows(_ xs: [Var]) -> Var {
        precondition(!xs.isEmpty, "concatRows of nothing")
        let tail = Array(shape(xs[0]).dropFirst())
        var y: [Float] = []
        var rows = 0
        for x in xs { precondition(Array(shape(x).dropFirst()) == tail, "concatRows shapes"); y += values[x.id]; rows += shape(x)[0] }
        let sizes = xs.map { values[$0.id].count }
        return record(y, shape: [rows] + tail, requiresGrad: anyNeedsGrad(xs),
                      tangent: { $0.tangentOfLinear(xs) { s, v in s.concatRows(v) } }) { t, g in
            var o = 0
            for (x, c) in zip(xs, sizes) { t.accumulate(x, Array(g[o..<(o + c)])); o += c }
        }
    }

    /// Sum of all values → a scalar `[]`.
    public func sum(_ x: Var) -> Var {
        let s = values[x.id].reduce(0, +)
        let n = values[x.id].count
        return record([s], shape: [], requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.sum(v[0]) } }) { t, g in
            t.accumulate(x, [Float](repeating: g[0], count: n))
        }
    }
}

extension Tape {
    /// Swaps the last two axes of `[n, p, q]` → `[n, q, p]`.
    public func transposeLast2(_ x: Var) -> Var {
        let s = shape(x)
        let n = s[0], p = s[1], q = s[2], xv = values[x.id]
        var y = xv
        for i in 0..<n { for a in 0..<p { for b in 0..<q { y[(i * q + b) * p + a] = xv[(i * p + a) * q + b] } } }
        return record(y, shape: [n, q, p], requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.transposeLast2(v[0]) } }) { t, g in
            var dx = g
            for i in 0..<n { for a in 0..<p { for b in 0..<q { dx[(i * p + a) * q + b] = g[(i * q + b) * p + a] } } }
            t.accumulate(x, dx)
        }
    }

    /// Repeats x `[...]` k times along a new first axis → `[k, ...]`.
    public func repeatFirst(_ x: Var, _ k: Int) -> Var {
        let xv = values[x.id]
        var y: [Float] = []
        y.reserveCapacity(xv.count * k)
        for _ in 0..<k { y += xv }
        return record(y, shape: [k] + shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.repeatFirst(v[0], k) } }) { t, g in
            let c = xv.count
            var dx = [Float](repeating: 0, count: c)
            for r in 0..<k { for i in 0..<c { dx[i] += g[r * c + i] } }
            t.accumulate(x, dx)
        }
    }

    /// Concatenates `[n, p_i, k]` tensors along the middle axis.
    public func concatMiddle(_ xs: [Var]) -> Var {
        let n = shape(xs[0])[0], k = shape(xs[0])[2]
        let ps = xs.map { shape($0)[1] }, total = ps.reduce(0, +)
        var y = [Float](repeating: 0, count: n * total * k)
        var off = 0
        for (x, p) in zip(xs, ps) {
            let xv = values[x.id]
            for i in 0..<n { for j in 0..<p { for c in 0..<k { y[(i * total + off + j) * k + c] = xv[(i * p + j) * k + c] } } }
            off += p
        }
        return record(y, shape: [n, total, k], requiresGrad: anyNeedsGrad(xs),
                      tangent: { $0.tangentOfLinear(xs) { s, v in s.concatMiddle(v) } }) { t, g in
            var off = 0
            for (x, p) in zip(xs, ps) {
                if t.needsGrad(x) {
                    var dx = [Float](repeating: 0, count: n * p * k)
                    for i in 0..<n { for j in 0..<p { for c in 0..<k { dx[(i * p + j) * k + c] = g[(i * total + off + j) * k + c] } } }
                    t.accumulate(x, dx)
                }
                off += p
            }
        }
    }

    /// `x[:, index, :]` of `[n, m, k]` → `[n, k]`.
    public func selectMiddle(_ x: Var, _ index: Int) -> Var {
        let s = shape(x)
        let n = s[0], m = s[1], k = s[2], xv = values[x.id]
        var y = [Float](repeating: 0, count: n * k)
        for i in 0..<n { for c in 0..<k { y[i * k + c] = xv[(i * m + index) * k + c] } }
        return record(y, shape: [n, k], requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.selectMiddle(v[0], index) } }) { t, g in
            var dx = [Float](repeating: 0, count: n * m * k)
            for i in 0..<n { for c in 0..<k { dx[(i * m + index) * k + c] = g[i * k + c] } }
            t.accumulate(x, dx)
        }
    }
}

extension Tape {
    /// Swaps the first two axes of `[a, b, c]` → `[b, a, c]`.
    public func permute01(_ x: Var) -> Var {
        let s = shape(x)
        let a = s[0], b = s[1], c = s.count > 2 ? s[2...].reduce(1, *) : 1, xv = values[x.id]
        var y = xv
        for i in 0..<a { for j in 0..<b { for k in 0..<c { y[(j * a + i) * c + k] = xv[(i * b + j) * c + k] } } }
        return record(y, shape: [b, a] + s.dropFirst(2), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.permute01(v[0]) } }) { t, g in
            var dx = g
            for i in 0..<a { for j in 0..<b { for k in 0..<c { dx[(i * b + j) * c + k] = g[(j * a + i) * c + k] } } }
            t.accumulate(x, dx)
        }
    }
}
