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
            var whole = start, skipped = start
            let lda = transA ? m : k, ldb = transB ? k : n
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    guard let ap = pa.baseAddress, let bp = pb.baseAddress else { return }
                    whole.withUnsafeMutableBufferPointer { pc in
                        guard let cp = pc.baseAddress else { return }
                        mscn_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, ap, Int32(lda), bp, Int32(ldb), beta, cp, Int32(n))
                    }
                    skipped.withUnsafeMutableBufferPointer { pc in
                        guard let cp = pc.baseAddress else { return }
                        let before = mscn_sgemm_skipped_zero_rows()
                        defer { if mscn_sgemm_skipped_zero_rows() > before { skipping += 1 } }
                        mscn_sgemm_skipping_zero_rows(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, ap, Int32(lda),
                                                      bp, Int32(ldb), beta, cp, Int32(n))
                    }
                }
            }
            let differing = zip(whole, skipped).filter { $0.bitPattern != $1.bitPattern }.count
            if differing > 0 {
                mismatches.append(ZeroRowsMismatch(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, differing: differing))
            }
        }
        return (skipping, mismatches)
    }
}
