import CBLAS
import CBLASReplay
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
/// `zeroRowsInA`: op(A) may have all-zero rows (the node rows of pairs without gradient in a
/// data-gradient product); their tiles of kernel work are left out where the product is replayed
/// and that gives the bits of the whole product (`mscn_sgemm_skipping_zero_rows`), unless
/// `PairActivity.skipsInactive` is off.
@inline(__always)
func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
           _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
           _ b: UnsafePointer<Float>, _ ldb: Int,
           _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, zeroRowsInA: Bool = false) {
    // The edges (empty C, k = 0, beta = 0 of transposed products) are `Engine.BLAS.gemm`'s too.
    mscn_sgemm_product(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                       beta, c, Int32(ldc), zeroRowsInA && PairActivity.skipsInactive ? 1 : 0)
}

/// `C += op(A)·op(B)` where one operand is zero along whole stretches of the depth: the rows
/// of pairs without gradient in a weight-gradient product. The same bits as `sgemm` with
/// beta = 1; aligned runs of 8 zero depth positions within OpenBLAS's depth blocks are left out
/// where its Haswell kernels are known to sum them away exactly (`mscn_sgemm_skipping_zero_depth`;
/// `mscn blas-check --zero-depth`). With `PairActivity.skipsInactive` off, the whole product.
@inline(__always)
func sgemmAddSkippingZeroDepth(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                               _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int, zerosIn operand: DepthZeros) {
    guard PairActivity.skipsInactive else { return sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 1, c, ldc) }
    if m == 0 || n == 0 || k == 0 { return }
    mscn_sgemm_skipping_zero_depth(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda),
                                   b, Int32(ldb), 1, c, Int32(ldc), operand == .a ? 0 : 1)
}

/// The operand of a product whose depth has the zero stretches.
enum DepthZeros { case a, b }

/// `C = X·Wᵀ + b` for X [m,k], W [n,k], b [n], C [m,n] (a linear layer over m rows): the bias
/// written first and the product added to it where that gives the bits of adding the bias after
/// (`mscn_sgemm_single_block_depth`), which saves zeroing C and a pass over it.
func sgemmBiased(rows m: Int, _ n: Int, _ k: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                 bias b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>) {
    if k <= singleBlockDepth {
        for r in 0..<m { (c + r * n).update(from: b, count: n) }
        sgemm(false, true, m, n, k, 1, x, k, w, k, 1, c, n)
    } else {
        sgemm(false, true, m, n, k, 1, x, k, w, k, 0, c, n)
        unsafeAddBiasRows(c, rows: m, b, n)
    }
}

/// The depth up to which `sgemmBiased` writes the bias first (0: never).
let singleBlockDepth = Int(mscn_sgemm_single_block_depth())

@inline(__always)
func leakyReLU(_ x: Float) -> Float { x > 0 ? x : 0.1 * x }

/// `leakyReLU` of four lanes (the same select and product per lane).
@inline(__always)
func leakyReLU4(_ x: SIMD4<Float>) -> SIMD4<Float> { x.replacing(with: 0.1 * x, where: .!(x .> 0)) }

@inline(__always)
func sigmoid(_ x: Float) -> Float { Sigmoid.value(x) }

/// Softmax in place of each of `rows` contiguous rows of `n` values: per row, subtract its max,
/// `expf`, sum in order, multiply by the sum's reciprocal. The exponentials of all rows run as one
/// vector call (elementwise, so the same bits as one call per row): rows are short (a caption's
/// nodes, 36 regions), and one call per row spent about half of their time on entry and tail.
/// Two rows at a time share the max and sum loops, so their dependency chains overlap.
@inline(__always)
func unsafeSoftmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, _ n: Int) {
    var r = 0
    while r + 2 <= rows {
        let a = x + r * n, b = a + n
        var ma = -Float.infinity, mb = -Float.infinity
        for i in 0..<n {
            if a[i] > ma { ma = a[i] }
            if b[i] > mb { mb = b[i] }
        }
        for i in 0..<n { a[i] -= ma; b[i] -= mb }
        r += 2
    }
    if r < rows {
        let a = x + r * n
        var m = -Float.infinity
        for i in 0..<n where a[i] > m { m = a[i] }
        for i in 0..<n { a[i] -= m }
    }
    ExpF.apply(x, x, rows * n)
    r = 0
    while r + 2 <= rows {
        let a = x + r * n, b = a + n
        var sa: Float = 0, sb: Float = 0
        for i in 0..<n { sa += a[i]; sb += b[i] }
        let ia = 1 / sa, ib = 1 / sb
        for i in 0..<n { a[i] *= ia; b[i] *= ib }
        r += 2
    }
    if r < rows {
        let a = x + r * n
        var s: Float = 0
        for i in 0..<n { s += a[i] }
        let inv = 1 / s
        for i in 0..<n { a[i] *= inv }
    }
}

/// `MSCN_THREADS` (when set): how many threads compute at once, e.g. 1 when two training
/// processes share two cores. Execution only: no result depends on it.
let environmentThreads: Int? = ProcessInfo.processInfo.environment["MSCN_THREADS"].flatMap { Int($0) }.map { max(1, $0) }

/// Runs `body(worker)` for `workers` fixed workers with OpenBLAS held to one thread meanwhile,
/// so the split (and hence every summation order) does not depend on the machine's core count.
/// `threads` is only how many run at once: 1 runs the workers one after the other, with
/// identical results (each worker owns its accumulators, and OpenBLAS is held to one thread
/// either way: products above its threading threshold would otherwise round differently).
func parallelWorkers(_ workers: Int, threads: Int, _ body: (Int) -> Void) {
    if workers <= 1 { body(0); return }
    let saved = mscn_blas_threads()
    mscn_blas_set_threads(1)
    if threads <= 1 {
        for w in 0..<workers { body(w) }
    } else {
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }
    mscn_blas_set_threads(saved)
}
