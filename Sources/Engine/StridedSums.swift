/// Sums whose order is fixed by the published bits (each row's or channel's terms added one after
/// the other, first to last) but whose rows or channels are independent: a scalar loop waits on
/// the adder's latency for every term, so these run several rows' (channels') chains in the lanes
/// of one vector. Each lane adds its own terms in the scalar loop's order, starting from +0, so
/// every sum has the scalar loop's bits.

/// `sums[ch] = Σ_i Σ_j term(k)` (i < n, j < l, in that order) over a `[n, c, l]` layout with
/// `k = (i·c + ch)·l + j`, in Double; `term` converts one element (and must not depend on lanes).
@inline(__always)
func channelSums(n: Int, c: Int, l: Int, _ term: (_ k: Int, _ ch: Int) -> Double) -> [Double] {
    var sums = [Double](repeating: 0, count: c)
    var ch = 0
    while ch + 8 <= c {
        var lo = SIMD4<Double>(), hi = SIMD4<Double>()
        for i in 0..<n {
            let base = (i * c + ch) * l
            for j in 0..<l {
                let k = base + j
                lo += SIMD4(term(k, ch), term(k + l, ch + 1), term(k + 2 * l, ch + 2), term(k + 3 * l, ch + 3))
                hi += SIMD4(term(k + 4 * l, ch + 4), term(k + 5 * l, ch + 5), term(k + 6 * l, ch + 6), term(k + 7 * l, ch + 7))
            }
        }
        for lane in 0..<4 { sums[ch + lane] = lo[lane]; sums[ch + 4 + lane] = hi[lane] }
        ch += 8
    }
    while ch + 4 <= c {
        var acc = SIMD4<Double>()
        for i in 0..<n {
            let base = (i * c + ch) * l
            for j in 0..<l {
                let k = base + j
                acc += SIMD4(term(k, ch), term(k + l, ch + 1), term(k + 2 * l, ch + 2), term(k + 3 * l, ch + 3))
            }
        }
        for lane in 0..<4 { sums[ch + lane] = acc[lane] }
        ch += 4
    }
    while ch < c {
        var s = 0.0
        for i in 0..<n { for j in 0..<l { s += term((i * c + ch) * l + j, ch) } }
        sums[ch] = s
        ch += 1
    }
    return sums
}

/// `sums[r] = Σ_c term(r, c)` (c < n, in order) for `rows` rows, in Float.
@inline(__always)
func rowSums(rows: Int, n: Int, _ term: (_ r: Int, _ c: Int) -> Float) -> [Float] {
    var sums = [Float](repeating: 0, count: rows)
    var r = 0
    while r + 8 <= rows {
        var acc = SIMD8<Float>()
        for c in 0..<n {
            acc += SIMD8(term(r, c), term(r + 1, c), term(r + 2, c), term(r + 3, c),
                         term(r + 4, c), term(r + 5, c), term(r + 6, c), term(r + 7, c))
        }
        for lane in 0..<8 { sums[r + lane] = acc[lane] }
        r += 8
    }
    while r < rows {
        var s: Float = 0
        for c in 0..<n { s += term(r, c) }
        sums[r] = s
        r += 1
    }
    return sums
}
