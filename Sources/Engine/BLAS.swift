import CBLAS
import CBLASReplay
import Foundation

/// Thin wrappers over OpenBLAS sgemm for row-major operands.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C` with `op(A)` `[m,k]`, `op(B)` `[k,n]`, all row-major.
    /// `transA`: A is stored `[k,m]`; `transB`: B is stored `[n,k]`.
    public static func gemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                            m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                            alpha: Float = 1, beta: Float = 0) {
        if m == 0 || n == 0 { return }
        _ = threadCap
        mscn_sgemm_product(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k),
                           b, Int32(transB ? k : n), beta, c, Int32(n), 0)
    }

    /// Array convenience: returns `op(A) · op(B)` as a new array `[m,n]`.
    public static func matmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int,
                              transA: Bool = false, transB: Bool = false) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        // C starts zeroed: a transposed product adds to it (what `gemm` would do after filling
        // it with zeros again); an untransposed one keeps beta = 0 (see `gemm`).
        let beta: Float = transA || transB ? 1 : 0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let ap = pa.baseAddress, let bp = pb.baseAddress, let cp = pc.baseAddress else { return }
                    gemm(ap, bp, cp, m: m, n: n, k: k, transA: transA, transB: transB, beta: beta)
                }
            }
        }
        return c
    }

    /// `x·Wᵀ + b` for x `[m,k]`, W `[n,k]`, b `[n]`: the bias is added after the product, or,
    /// at depths where that gives the same bits (`singleBlockDepth`), written first and the
    /// product added to it, which saves a fill and a pass over the output.
    public static func linear(_ x: [Float], _ w: [Float], bias: [Float], m: Int, n: Int, k: Int) -> [Float] {
        precondition(bias.count == n, "BLAS.linear: bias has \(bias.count) values, expected \(n)")
        if k > singleBlockDepth {
            var y = matmul(x, w, m: m, n: n, k: k, transB: true)
            y.withUnsafeMutableBufferPointer { yp in
                for r in 0..<m { for o in 0..<n { yp[r * n + o] += bias[o] } }
            }
            return y
        }
        var y: [Float] = []
        y.reserveCapacity(m * n)
        for _ in 0..<m { y += bias }
        matmulAdd(x, w, into: &y, m: m, n: n, k: k, transB: true)
        return y
    }

    /// The depth up to which bias-first and bias-after give the same bits (0: never assumed).
    public static let singleBlockDepth = Int(mscn_sgemm_single_block_depth())

    /// Array convenience: `C += op(A) · op(B)` in place.
    public static func matmulAdd(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int,
                                 transA: Bool = false, transB: Bool = false) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let ap = pa.baseAddress, let bp = pb.baseAddress, let cp = pc.baseAddress else { return }
                    gemm(ap, bp, cp, m: m, n: n, k: k, transA: transA, transB: transB, beta: 1)
                }
            }
        }
    }

    /// `MSCN_THREADS` (when set) caps OpenBLAS's threads, applied before the first product (two
    /// training processes sharing two cores run best with 1 each). OpenBLAS's single-threaded
    /// path can round mid-sized products differently, so a different cap may change last bits.
    /// Not under an accepted `MSCN_SERIAL_BLAS=1`: the replay already computes the two-thread
    /// products on the calling thread, so they keep the two-thread split, and a process with
    /// `MSCN_THREADS=1` gets the bits of one with two.
    static let threadCap: Int? = {
        guard let n = environmentThreads else { return nil }
        if mscn_blas_replay_active() != 0 { return n }
        mscn_blas_set_threads(Int32(n))
        return n
    }()

    /// Sets the number of OpenBLAS threads (skinny products can be faster on one).
    public static func setThreads(_ n: Int) { mscn_blas_set_threads(Int32(n)) }
    /// The threads products are computed as if with (two under `MSCN_SERIAL_BLAS=1`, computed on one).
    public static var threads: Int { Int(mscn_blas_threads()) }
    /// Turns the replay off or back on where `MSCN_SERIAL_BLAS=1` was accepted (benchmarks that
    /// run several stages' phases in one process); returns whether it is on. Between products only.
    @discardableResult
    public static func useSerialReplay(_ on: Bool) -> Bool { mscn_blas_use_replay(on ? 1 : 0) != 0 }

    /// Whether `MSCN_SERIAL_BLAS=1` is in effect, whether it was asked for but declined, and a
    /// line saying which (with the reason when declined).
    public static var serialReplay: (active: Bool, refused: Bool, status: String) {
        (mscn_blas_replay_active() != 0, mscn_blas_replay_refused() != 0, String(cString: mscn_blas_replay_status()))
    }
}
