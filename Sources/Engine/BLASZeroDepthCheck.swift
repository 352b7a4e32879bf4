import CBLASReplay
import MSCNRandom

extension BLAS {
    /// Which operand of a product has the zero stretches along the depth that
    /// `mscn_sgemm_skipping_zero_depth` may leave out (its `zeroOperand`).
    public enum ZeroDepthOperand: Int32, Sendable { case a = 0, b = 1 }

    /// A product where dropping zero depth stretches changed a value.
    public struct ZeroDepthMismatch: CustomStringConvertible, Sendable {
        public var m: Int, n: Int, k: Int, transA: Bool, transB: Bool, zeroIn: ZeroDepthOperand, differing: Int
        public var description: String {
            "\(m)×\(n), depth \(k), transA \(transA), transB \(transB), zeros in \(zeroIn == .a ? "A" : "B"): \(differing) of \(m * n) values differ"
        }
    }

    /// `mscn_sgemm_skipping_zero_depth` (the kernel's weight-gradient products) against the whole
    /// product (`mscn_sgemm`), bit for bit, on random shapes and transpositions whose zero operand
    /// has runs of 1–14 zero depth positions (as pairs without gradient leave their word rows),
    /// with depths past two OpenBLAS blocks. Returns how many products left depth positions out,
    /// and the mismatches.
    public static func checkZeroDepth(count: Int, maxSide: Int, maxDepth: Int, seed: UInt64)
        -> (leftOut: Int, mismatches: [ZeroDepthMismatch]) {
        var rng = SeededGenerator(seed: seed, stream: "blas-check-zero-depth")
        var dropping = 0
        var mismatches: [ZeroDepthMismatch] = []
        for _ in 0..<count {
            let (m, n, k, transA, transB) = randomProductShape(maxSide: maxSide, maxDepth: maxDepth, using: &rng)
            let zeroIn: ZeroDepthOperand = Bool.random(using: &rng) ? .a : .b
            var a = randomValues(m * k, using: &rng), b = randomValues(k * n, using: &rng)
            var zero = [Bool](repeating: false, count: k)
            var p = 0
            while p < k {
                let run = Int.random(in: 1...14, using: &rng), isZero = Double.random(in: 0..<1, using: &rng) < 0.75
                for q in p..<min(p + run, k) { zero[q] = isZero }
                p += run
            }
            for q in 0..<k where zero[q] {
                switch zeroIn {
                case .a: for i in 0..<m { a[transA ? q * m + i : i * k + q] = 0 }
                case .b: for j in 0..<n { b[transB ? j * k + q : q * n + j] = 0 }
                }
            }
            let (differing, leftOut) = compareWithWholeProduct(
                a, b, start: randomValues(m * n, using: &rng), m: m, n: n, k: k, transA: transA, transB: transB, beta: 1,
                counter: { mscn_sgemm_dropped_depth() }) { ap, lda, bp, ldb, cp in
                mscn_sgemm_skipping_zero_depth(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, ap, lda, bp, ldb, 1, cp,
                                               Int32(n), zeroIn.rawValue)
            }
            if leftOut { dropping += 1 }
            if differing > 0 {
                mismatches.append(ZeroDepthMismatch(m: m, n: n, k: k, transA: transA, transB: transB, zeroIn: zeroIn, differing: differing))
            }
        }
        return (dropping, mismatches)
    }
}
