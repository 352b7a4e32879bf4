import MSCNRandom

extension BLAS {
    /// A product where `linear`'s bias-first form differed from adding the bias after.
    public struct BiasFirstMismatch: CustomStringConvertible, Sendable {
        public var m: Int, n: Int, k: Int, differing: Int
        public var description: String { "\(m)×\(k) · (\(n)×\(k))ᵀ + b: \(differing) of \(m * n) values differ" }
    }

    /// `linear` against the product followed by the bias, bit for bit, on random shapes with
    /// depths up to twice `singleBlockDepth` (beyond it `linear` must take the bias-after path).
    /// Returns how many shapes used the bias-first form, and the mismatches.
    public static func checkBiasFirst(count: Int, maxSide: Int, seed: UInt64) -> (biasFirst: Int, mismatches: [BiasFirstMismatch]) {
        var rng = SeededGenerator(seed: seed, stream: "blas-check-bias")
        let maxDepth = max(2 * singleBlockDepth, 2)
        var first = 0
        var mismatches: [BiasFirstMismatch] = []
        for i in 0..<count {
            let m = Int.random(in: 1...maxSide, using: &rng), n = Int.random(in: 1...maxSide, using: &rng)
            // Every fourth at the boundary itself, the depth where a block split would begin.
            let k = i % 4 == 3 ? max(singleBlockDepth, 1) : Int.random(in: 1...maxDepth, using: &rng)
            let x = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let b = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
            if k <= singleBlockDepth { first += 1 }
            let fused = linear(x, w, bias: b, m: m, n: n, k: k)
            var after = matmul(x, w, m: m, n: n, k: k, transB: true)
            for r in 0..<m { for o in 0..<n { after[r * n + o] += b[o] } }
            let differing = zip(fused, after).filter { $0.bitPattern != $1.bitPattern }.count
            if differing > 0 { mismatches.append(BiasFirstMismatch(m: m, n: n, k: k, differing: differing)) }
        }
        return (first, mismatches)
    }
}
