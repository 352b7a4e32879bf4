import CBLAS
import Foundation
import VectorLibm

/// A manually managed Float buffer: hot loops work on its raw pointer, so they pay neither
/// copy-on-write nor exclusivity checks. Owned by a tape or a worker, never shared while written.
final class FloatBuffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int, zeroed: Bool = true) {
        self.count = count
        p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        if zeroed { p.initialize(repeating: 0, count: max(count, 1)) }
    }

    convenience init(unzeroed count: Int) { self.init(count, zeroed: false) }

    deinit { p.deallocate() }

    func zero() { p.update(repeating: 0, count: count) }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

func copyArray(_ a: [Float], to p: UnsafeMutablePointer<Float>) {
    a.withUnsafeBufferPointer { src in
        if let base = src.baseAddress { p.update(from: base, count: src.count) }
    }
}

/// Reference epsilon of `l2norm` / `l1norm`, added after the square root.
let normEps: Float = 1e-8

// Scalar float reductions stay scalar in Swift; these SIMD8 loops are the vectorised versions.

@inline(__always)
func unsafeDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

@inline(__always)
func unsafeSumSquares(_ a: UnsafePointer<Float>, _ n: Int) -> Float { unsafeDot(a, a, n) }

/// y += alpha·x
@inline(__always)
func unsafeAxpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let av = SIMD8<Float>(repeating: alpha)
    var i = 0
    while i + 8 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv + av * xv, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// x *= alpha
@inline(__always)
func unsafeScale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
    let av = SIMD8<Float>(repeating: alpha)
    var i = 0
    while i + 8 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(x + i).storeBytes(of: xv * av, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { x[i] *= alpha; i += 1 }
}

/// out = (a − b)²
@inline(__always)
func unsafeSquaredDifference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n {
        let d = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            - UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: d * d, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { let d = a[i] - b[i]; out[i] = d * d; i += 1 }
}

/// Reference `l2norm` of one row in place; returns the norm before the epsilon.
@inline(__always)
func unsafeL2NormalizeRow(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    let norm = unsafeSumSquares(x, n).squareRoot()
    unsafeScale(1 / (norm + normEps), x, n)
    return norm
}

/// Backward of `y = x / (‖x‖ + ε)` in place on `dy`: `dx = dy/(n+ε) − y·(y·dy)/n`.
@inline(__always)
func unsafeL2NormalizeBackward(y: UnsafePointer<Float>, norm: Float, _ dy: UnsafeMutablePointer<Float>, _ n: Int) {
    let yd = unsafeDot(y, dy, n)
    unsafeScale(1 / (norm + normEps), dy, n)
    if norm > 0 { unsafeAxpy(-yd / norm, y, dy, n) }
}

/// Adds `bias` to each of `rows` rows of `x`.
@inline(__always)
func unsafeAddBiasRows(_ x: UnsafeMutablePointer<Float>, rows: Int, _ bias: UnsafePointer<Float>, _ n: Int) {
    for r in 0..<rows { unsafeAxpy(1, bias, x + r * n, n) }
}

/// acc += column sums of `x` [rows, n]
@inline(__always)
func unsafeAddColumnSums(_ x: UnsafePointer<Float>, rows: Int, _ n: Int, into acc: UnsafeMutablePointer<Float>) {
    for r in 0..<rows { unsafeAxpy(1, x + r * n, acc, n) }
}

/// Row-major sgemm: C = alpha·op(A)·op(B) + beta·C with op(A) [m,k], op(B) [k,n].
@inline(__always)
func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
           _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
           _ b: UnsafePointer<Float>, _ ldb: Int,
           _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) } }
        else if beta != 1 { for r in 0..<m { unsafeScale(beta, c + r * ldc, n) } }
        return
    }
    // OpenBLAS applies beta = 0 with one memset per output row (≈ 5% of a training step's
    // instructions on these skinny outputs); one contiguous fill and beta = 1 do the same.
    // Not for untransposed products: OpenBLAS sends small ones with beta = 0 to a direct
    // AVX-512 kernel whose results do not depend on the output's width, which keeps scores
    // independent of the evaluation's shard sizes; its blocked path would not.
    var beta = beta
    if beta == 0 && (transA || transB) {
        if ldc == n { c.update(repeating: 0, count: m * n) } else { for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) } }
        beta = 1
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

@inline(__always)
func leakyReLU(_ x: Float) -> Float { x > 0 ? x : 0.1 * x }

@inline(__always)
func sigmoid(_ x: Float) -> Float { Sigmoid.value(x) }

/// Softmax of `n` values in place (max-subtracted).
@inline(__always)
func unsafeSoftmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    var s: Float = 0
    for i in 0..<n { x[i] -= m }
    ExpF.apply(x, x, n)
    for i in 0..<n { s += x[i] }
    let inv = 1 / s
    for i in 0..<n { x[i] *= inv }
}

/// `MSCN_THREADS` (when set): how many threads compute at once, e.g. 1 when two training
/// processes share two cores. Execution only: no result depends on it.
let environmentThreads: Int? = ProcessInfo.processInfo.environment["MSCN_THREADS"].flatMap { Int($0) }.map { max(1, $0) }

/// Runs `body(worker)` for `workers` fixed workers with OpenBLAS held to one thread meanwhile,
/// so the split (and hence every summation order) does not depend on the machine's core count.
/// `threads` is only how many run at once: 1 runs the workers one after the other, with
/// identical results (each worker owns its accumulators).
func parallelWorkers(_ workers: Int, threads: Int, _ body: (Int) -> Void) {
    if workers <= 1 { body(0); return }
    if threads <= 1 {
        for w in 0..<workers { body(w) }
        return
    }
    let saved = openblas_get_num_threads()
    openblas_set_num_threads(1)
    DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    openblas_set_num_threads(saved)
}

// Register-blocked forms for SGR's per-pair edge work: one pass over `x` serves four rows,
// with four independent FMA chains (the one-row loops are load- and latency-bound at s = 64).

/// (x·y0, x·y1, x·y2, x·y3)
@inline(__always)
func unsafeDot4(_ x: UnsafePointer<Float>, _ y0: UnsafePointer<Float>, _ y1: UnsafePointer<Float>,
                _ y2: UnsafePointer<Float>, _ y3: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        a0 += xv * UnsafeRawPointer(y0 + i).loadUnaligned(as: SIMD8<Float>.self)
        a1 += xv * UnsafeRawPointer(y1 + i).loadUnaligned(as: SIMD8<Float>.self)
        a2 += xv * UnsafeRawPointer(y2 + i).loadUnaligned(as: SIMD8<Float>.self)
        a3 += xv * UnsafeRawPointer(y3 + i).loadUnaligned(as: SIMD8<Float>.self)
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
        var yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        yv += c0 * UnsafeRawPointer(x0 + i).loadUnaligned(as: SIMD8<Float>.self)
        yv += c1 * UnsafeRawPointer(x1 + i).loadUnaligned(as: SIMD8<Float>.self)
        yv += c2 * UnsafeRawPointer(x2 + i).loadUnaligned(as: SIMD8<Float>.self)
        yv += c3 * UnsafeRawPointer(x3 + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv, as: SIMD8<Float>.self)
        i += 8
    }
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
