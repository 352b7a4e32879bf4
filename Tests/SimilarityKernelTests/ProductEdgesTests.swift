import CBLASReplay
import XCTest

/// The edges `Engine.BLAS.gemm` and the kernels' `sgemm` share (`mscn_sgemm_product`): an empty C
/// untouched, k = 0 applying beta to C alone, beta = 0 overwriting whatever C held (NaN too) for
/// every transpose, and C's padding between rows (ldc > n) never written.
final class ProductEdgesTests: XCTestCase {
    private func values(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C in Double, row-major with leading dimensions.
    private func expected(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
                          _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = tA ? a[p * lda + i] : a[i * lda + p]
                    let y = tB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                out[i * ldc + j] = Float(Double(alpha) * sum + old)
            }
        }
        return out
    }

    func testEveryTransposeBetaAndDepthIncludingZero() {
        let padding: Float = -7
        for (m, n, k) in [(5, 3, 4), (1, 1, 1), (4, 6, 0), (17, 9, 33), (40, 24, 64)] {
            for tA in [false, true] {
                for tB in [false, true] {
                    for beta: Float in [0, 1, 0.5] {
                        for extra in [0, 3] {
                            let lda = (tA ? m : k) + 1, ldb = (tB ? k : n) + 2, ldc = n + extra
                            let a = values((tA ? k : m) * lda, seed: 1), b = values((tB ? n : k) * ldb, seed: 2)
                            // C holds NaN where beta = 0 must overwrite it, and a marker in its padding.
                            var c = [Float](repeating: padding, count: m * ldc)
                            let start = values(m * n, seed: 3)
                            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? .nan : start[i * n + j] } }
                            let want = expected(tA, tB, m, n, k, 0.75, a, lda, b, ldb, beta, c, ldc)
                            for zeroRows in [Int32(0), 1] {
                                var got = c
                                got.withUnsafeMutableBufferPointer { cp in
                                    mscn_sgemm_product(tA ? 1 : 0, tB ? 1 : 0, Int32(m), Int32(n), Int32(k), 0.75, a, Int32(lda),
                                                       b, Int32(ldb), beta, cp.baseAddress, Int32(ldc), zeroRows)
                                }
                                let label = "m\(m) n\(n) k\(k) tA \(tA) tB \(tB) beta \(beta) ldc \(ldc) zeroRows \(zeroRows)"
                                for i in 0..<m {
                                    for j in 0..<ldc {
                                        let g = got[i * ldc + j]
                                        if j >= n { XCTAssertEqual(g, padding, "padding written: \(label)"); continue }
                                        XCTAssertEqual(g, want[i * ldc + j], accuracy: 1e-5, "\(label) at \(i),\(j)")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func testAnEmptyProductLeavesCUntouched() {
        var c: [Float] = [.nan, 3]
        c.withUnsafeMutableBufferPointer { cp in
            mscn_sgemm_product(1, 0, 0, 2, 4, 1, [], 1, [], 2, 0, cp.baseAddress, 2, 0)
            mscn_sgemm_product(0, 1, 1, 0, 4, 1, [], 4, [], 4, 0, cp.baseAddress, 2, 0)
        }
        XCTAssertTrue(c[0].isNaN)
        XCTAssertEqual(c[1], 3)
    }
}
