import CBLASReplay
import MSCNRandom

extension BLAS {
    /// A product where leaving out the kernel tiles of zero rows changed a value.
    public struct ZeroRowsMismatch: CustomStringConvertible, Sendable {
        public var m: Int, n: Int, k: Int, transA: Bool, transB: Bool, beta: Float, differing: Int
        public var description: String {
            "\(m)×\(n), depth \(k), transA \(transA), transB \(transB), β=\(beta): \(differing) of \(m * n) values differ"
        }
    }

    /// `mscn_sgemm_skipping_zero_rows` (the kernel's data-gradient products) against the whole
    /// product (`mscn_sgemm`), bit for bit, on random shapes and transpositions whose op(A) has
    /// runs of 1–40 zero rows (as pairs without gradient leave their node rows), β ∈ {0, 1}, and
    /// a start of C with some negative zeros (which a left-out tile must not turn into +0).
    /// Returns how many products left kernel work out, and the mismatches.
    public static func checkZeroRows(count: Int, maxSide: Int, maxDepth: Int, seed: UInt64)
        -> (leftOut: Int, mismatches: [ZeroRowsMismatch]) {
        var rng = SeededGenerator(seed: seed, stream: "blas-check-zero-rows")
        var skipping = 0
        var mismatches: [ZeroRowsMismatch] = []
        for _ in 0..<count {
            let (m, n, k, transA, transB) = randomProductShape(maxSide: maxSide, maxDepth: maxDepth, using: &rng)
            let beta: Float = Bool.random(using: &rng) ? 0 : 1
            var a = randomValues(m * k, using: &rng)
            let b = randomValues(k * n, using: &rng)
            var i = 0
            while i < m {
                let run = Int.random(in: 1...40, using: &rng), isZero = Double.random(in: 0..<1, using: &rng) < 0.75
                if isZero {
                    for r in i..<min(i + run, m) {
                        for p in 0..<k { a[transA ? p * m + r : r * k + p] = Bool.random(using: &rng) ? 0 : -0.0 }
                    }
                }
                i += run
            }
            var start = randomValues(m * n, using: &rng)
            for q in 0..<start.count where Int.random(in: 0..<50, using: &rng) == 0 { start[q] = -0.0 }
            let (differing, leftOut) = compareWithWholeProduct(
                a, b, start: start, m: m, n: n, k: k, transA: transA, transB: transB, beta: beta,
                counter: { mscn_sgemm_skipped_zero_rows() }) { ap, lda, bp, ldb, cp in
                mscn_sgemm_skipping_zero_rows(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, ap, lda, bp, ldb, beta, cp, Int32(n))
            }
            if leftOut { skipping += 1 }
            if differing > 0 {
                mismatches.append(ZeroRowsMismatch(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, differing: differing))
            }
        }
        return (skipping, mismatches)
    }
}
