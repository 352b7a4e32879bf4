import CBLASReplay
import MSCNRandom

extension BLAS {
    /// One product of `checkSerialReplay` whose result differed from OpenBLAS's two threads.
    public struct ReplayMismatch: Sendable, CustomStringConvertible {
        public var m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float
        public var differing: Int
        public var description: String {
            "[\(m)×\(k)]\(transA ? "ᵀ" : "")·[\(k)×\(n)]\(transB ? "ᵀ" : "") α=\(alpha) β=\(beta): \(differing) of \(m * n) values differ"
        }
    }

    /// Runs `count` random products (sides up to `maxSide`, depth up to `maxDepth`, every
    /// transposition, α ∈ {1, 0.5}, β ∈ {0, 1, 0.7}) through `gemm` and through OpenBLAS with two
    /// threads, and returns the products whose bits differ. Meaningful only while the serial
    /// replay is active (`serialReplay.active`); `splitCount` counts the products above OpenBLAS's
    /// threading threshold (m·n·k > 262,144), the ones it may split.
    public static func checkSerialReplay(count: Int, maxSide: Int, maxDepth: Int, seed: UInt64)
        -> (splitCount: Int, mismatches: [ReplayMismatch]) {
        var rng = SeededGenerator(seed: seed, stream: "blas-check")
        var split = 0
        var mismatches: [ReplayMismatch] = []
        for _ in 0..<count {
            let (m, n, k, transA, transB) = randomProductShape(maxSide: maxSide, maxDepth: maxDepth, using: &rng)
            let alpha: Float = Bool.random(using: &rng) ? 1 : 0.5
            let beta: Float = [0, 1, 0.7][Int.random(in: 0..<3, using: &rng)]
            let a = randomValues(m * k, using: &rng), b = randomValues(k * n, using: &rng), c0 = randomValues(m * n, using: &rng)
            if Double(m) * Double(n) * Double(k) > 262_144 { split += 1 }
            var replayed = c0, reference = c0
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    guard let ap = pa.baseAddress, let bp = pb.baseAddress else { return }
                    replayed.withUnsafeMutableBufferPointer { pc in
                        guard let cp = pc.baseAddress else { return }
                        gemm(ap, bp, cp, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta)
                    }
                    reference.withUnsafeMutableBufferPointer { pc in
                        guard let cp = pc.baseAddress else { return }
                        // OpenBLAS itself with two threads: the replay turned off for this product
                        // (which also checks that turning it off gives OpenBLAS its threads back).
                        useSerialReplay(false)
                        gemm(ap, bp, cp, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta)
                        useSerialReplay(true)
                    }
                }
            }
            let differing = zip(replayed, reference).filter { $0.bitPattern != $1.bitPattern }.count
            if differing > 0 {
                mismatches.append(ReplayMismatch(m: m, n: n, k: k, transA: transA, transB: transB,
                                                 alpha: alpha, beta: beta, differing: differing))
            }
        }
        return (split, mismatches)
    }

    /// A skipping product form against the whole one: `start` + op(A)·op(B) (α = 1, row-major,
    /// tight leading dimensions) through `mscn_sgemm` and through `skipping` (given A, lda, B, ldb
    /// and C), with the skipping form's counter of work left out read around it. Returns how many
    /// values differ in their bits and whether the counter moved.
    static func compareWithWholeProduct(_ a: [Float], _ b: [Float], start: [Float], m: Int, n: Int, k: Int,
                                        transA: Bool, transB: Bool, beta: Float, counter: () -> UInt64,
                                        skipping: (UnsafePointer<Float>, Int32, UnsafePointer<Float>, Int32, UnsafeMutablePointer<Float>) -> Void)
        -> (differing: Int, leftOut: Bool) {
        var whole = start, skipped = start
        var leftOut = false
        let lda = Int32(transA ? m : k), ldb = Int32(transB ? k : n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let ap = pa.baseAddress, let bp = pb.baseAddress else { return }
                whole.withUnsafeMutableBufferPointer { pc in
                    guard let cp = pc.baseAddress else { return }
                    mscn_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, ap, lda, bp, ldb, beta, cp, Int32(n))
                }
                skipped.withUnsafeMutableBufferPointer { pc in
                    guard let cp = pc.baseAddress else { return }
                    let before = counter()
                    skipping(ap, lda, bp, ldb, cp)
                    leftOut = counter() > before
                }
            }
        }
        return (zip(whole, skipped).filter { $0.bitPattern != $1.bitPattern }.count, leftOut)
    }

    /// A random product's sides, depth and transpositions, drawn in this order.
    static func randomProductShape(maxSide: Int, maxDepth: Int, using rng: inout SeededGenerator)
        -> (m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
        let m = Int.random(in: 1...maxSide, using: &rng), n = Int.random(in: 1...maxSide, using: &rng)
        let k = Int.random(in: 1...maxDepth, using: &rng)
        return (m, n, k, Bool.random(using: &rng), Bool.random(using: &rng))
    }

    /// `count` values uniform in [-1, 1].
    static func randomValues(_ count: Int, using rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }
}
