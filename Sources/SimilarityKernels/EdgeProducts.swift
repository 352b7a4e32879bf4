/// SGR's per-pair edge work: dot products of one row against a table of rows, and sums of
/// table rows weighted by coefficients, at s = 32…256 floats a row. Register-blocked, because the
/// one-row loops are load- and latency-bound at these widths.
///
/// Bit-identity: every form computes each output element with the same IEEE operations in the
/// same order as the one-row form (`unsafeDot`, `unsafeAxpy`): a dot accumulates eight lanes
/// over the row in steps of eight, sums the lanes with `sum()`, then adds the tail products in
/// order; a weighted sum adds `c_b · x_b` to `y` for b = 0, 1, … (on the elements past the last
/// full eight, four products are summed first, then added, as `unsafeAxpy4` does). Blocking only
/// changes which loads are shared and where accumulators live, so the kernels' results (and every
/// cached artefact) do not depend on which form ran.

/// (x·y0, x·y1, x·y2, x·y3)
@inline(__always)
func unsafeDot4(_ x: UnsafePointer<Float>, _ y0: UnsafePointer<Float>, _ y1: UnsafePointer<Float>,
                _ y2: UnsafePointer<Float>, _ y3: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let xv = load8(x + i)
        a0 += xv * load8(y0 + i)
        a1 += xv * load8(y1 + i)
        a2 += xv * load8(y2 + i)
        a3 += xv * load8(y3 + i)
        i += 8
    }
    var r = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    while i < n {
        r += SIMD4<Float>(y0[i], y1[i], y2[i], y3[i]) * x[i]
        i += 1
    }
    return r
}

/// y += c.x·x0 + c.y·x1 + c.z·x2 + c.w·x3
@inline(__always)
func unsafeAxpy4(_ c: SIMD4<Float>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                 _ x3: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let c0 = SIMD8<Float>(repeating: c.x), c1 = SIMD8<Float>(repeating: c.y)
    let c2 = SIMD8<Float>(repeating: c.z), c3 = SIMD8<Float>(repeating: c.w)
    var i = 0
    while i + 8 <= n {
        var yv = load8(y + i)
        yv += c0 * load8(x0 + i)
        yv += c1 * load8(x1 + i)
        yv += c2 * load8(x2 + i)
        yv += c3 * load8(x3 + i)
        store8(yv, y + i)
        i += 8
    }
    unsafeAxpy4Tail(c, x0, x1, x2, x3, y, from: i, n)
}

/// The elements of `unsafeAxpy4` past the last full eight: the four products summed, then added.
@inline(__always)
func unsafeAxpy4Tail(_ c: SIMD4<Float>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                     _ x3: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, from start: Int, _ n: Int) {
    var i = start
    while i < n {
        y[i] += c.x * x0[i] + c.y * x1[i] + c.z * x2[i] + c.w * x3[i]
        i += 1
    }
}

/// out[b] = x·rows[b] for b in 0..<count (rows given by pointer table).
@inline(__always)
func unsafeDotRows(_ x: UnsafePointer<Float>, _ rows: UnsafePointer<UnsafeMutablePointer<Float>>, _ count: Int,
                   _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    var b = 0
    while b + 4 <= count {
        let r = unsafeDot4(x, rows[b], rows[b + 1], rows[b + 2], rows[b + 3], n)
        out[b] = r.x; out[b + 1] = r.y; out[b + 2] = r.z; out[b + 3] = r.w
        b += 4
    }
    while b < count { out[b] = unsafeDot(x, rows[b], n); b += 1 }
}

/// y += Σ_b coef[b]·rows[b]
@inline(__always)
func unsafeCombineRows(_ coef: UnsafePointer<Float>, _ rows: UnsafePointer<UnsafeMutablePointer<Float>>, _ count: Int,
                       into y: UnsafeMutablePointer<Float>, _ n: Int) {
    var b = 0
    while b + 4 <= count {
        unsafeAxpy4(SIMD4(coef[b], coef[b + 1], coef[b + 2], coef[b + 3]), rows[b], rows[b + 1], rows[b + 2], rows[b + 3], y, n)
        b += 4
    }
    while b < count { unsafeAxpy(coef[b], rows[b], y, n); b += 1 }
}

/// `unsafeDotRows` of two rows `x0`, `x1` against the same table, each table row loaded once
/// for both: out0[b] = x0·rows[b], out1[b] = x1·rows[b], bit for bit as two separate calls.
@inline(__always)
func unsafeDotRows2(_ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                    _ rows: UnsafePointer<UnsafeMutablePointer<Float>>, _ count: Int,
                    _ out0: UnsafeMutablePointer<Float>, _ out1: UnsafeMutablePointer<Float>, _ n: Int) {
    let n8 = n & ~7
    var b = 0
    while b + 4 <= count {
        let y0 = rows[b], y1 = rows[b + 1], y2 = rows[b + 2], y3 = rows[b + 3]
        var p0 = SIMD8<Float>(), p1 = SIMD8<Float>(), p2 = SIMD8<Float>(), p3 = SIMD8<Float>()
        var q0 = SIMD8<Float>(), q1 = SIMD8<Float>(), q2 = SIMD8<Float>(), q3 = SIMD8<Float>()
        var i = 0
        while i < n8 {
            let u = load8(x0 + i), v = load8(x1 + i)
            let r0 = load8(y0 + i), r1 = load8(y1 + i), r2 = load8(y2 + i), r3 = load8(y3 + i)
            p0 += u * r0; q0 += v * r0
            p1 += u * r1; q1 += v * r1
            p2 += u * r2; q2 += v * r2
            p3 += u * r3; q3 += v * r3
            i += 8
        }
        var s0 = SIMD4<Float>(p0.sum(), p1.sum(), p2.sum(), p3.sum())
        var s1 = SIMD4<Float>(q0.sum(), q1.sum(), q2.sum(), q3.sum())
        while i < n {
            let r = SIMD4<Float>(y0[i], y1[i], y2[i], y3[i])
            s0 += r * x0[i]
            s1 += r * x1[i]
            i += 1
        }
        out0[b] = s0.x; out0[b + 1] = s0.y; out0[b + 2] = s0.z; out0[b + 3] = s0.w
        out1[b] = s1.x; out1[b + 1] = s1.y; out1[b + 2] = s1.z; out1[b + 3] = s1.w
        b += 4
    }
    while b < count {
        out0[b] = unsafeDot(x0, rows[b], n)
        out1[b] = unsafeDot(x1, rows[b], n)
        b += 1
    }
}

/// `unsafeCombineRows` into two rows at once, each table row loaded once for both and the
/// partial sums kept in registers across the table: y0 += Σ_b coef0[b]·rows[b],
/// y1 += Σ_b coef1[b]·rows[b], bit for bit as two separate calls. `y0`, `y1` must not alias
/// the table's rows.
@inline(__always)
func unsafeCombineRows2(_ coef0: UnsafePointer<Float>, _ coef1: UnsafePointer<Float>,
                        _ rows: UnsafePointer<UnsafeMutablePointer<Float>>, _ count: Int,
                        into y0: UnsafeMutablePointer<Float>, _ y1: UnsafeMutablePointer<Float>, _ n: Int) {
    let n8 = n & ~7
    var i = 0
    // Tiles of 32 columns: eight accumulators, each table row's tile loaded once.
    while i + 32 <= n8 {
        var a0 = load8(y0 + i), a1 = load8(y0 + i + 8), a2 = load8(y0 + i + 16), a3 = load8(y0 + i + 24)
        var b0 = load8(y1 + i), b1 = load8(y1 + i + 8), b2 = load8(y1 + i + 16), b3 = load8(y1 + i + 24)
        for b in 0..<count {
            let x = UnsafePointer(rows[b]) + i
            let c = SIMD8<Float>(repeating: coef0[b]), d = SIMD8<Float>(repeating: coef1[b])
            let x0 = load8(x), x1 = load8(x + 8), x2 = load8(x + 16), x3 = load8(x + 24)
            a0 += c * x0; b0 += d * x0
            a1 += c * x1; b1 += d * x1
            a2 += c * x2; b2 += d * x2
            a3 += c * x3; b3 += d * x3
        }
        store8(a0, y0 + i); store8(a1, y0 + i + 8); store8(a2, y0 + i + 16); store8(a3, y0 + i + 24)
        store8(b0, y1 + i); store8(b1, y1 + i + 8); store8(b2, y1 + i + 16); store8(b3, y1 + i + 24)
        i += 32
    }
    while i < n8 {
        var a = load8(y0 + i), bv = load8(y1 + i)
        for b in 0..<count {
            let x = load8(UnsafePointer(rows[b]) + i)
            a += SIMD8<Float>(repeating: coef0[b]) * x
            bv += SIMD8<Float>(repeating: coef1[b]) * x
        }
        store8(a, y0 + i)
        store8(bv, y1 + i)
        i += 8
    }
    if n8 < n {
        // The one-row form's tail: four products summed, then added; the last rows one at a time.
        var b = 0
        while b + 4 <= count {
            unsafeAxpy4Tail(SIMD4(coef0[b], coef0[b + 1], coef0[b + 2], coef0[b + 3]), rows[b], rows[b + 1], rows[b + 2], rows[b + 3],
                            y0, from: n8, n)
            unsafeAxpy4Tail(SIMD4(coef1[b], coef1[b + 1], coef1[b + 2], coef1[b + 3]), rows[b], rows[b + 1], rows[b + 2], rows[b + 3],
                            y1, from: n8, n)
            b += 4
        }
        while b < count {
            for k in n8..<n {
                y0[k] += coef0[b] * rows[b][k]
                y1[k] += coef1[b] * rows[b][k]
            }
            b += 1
        }
    }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
