/// Sampling routines with fixed, documented algorithms (see `SeededGenerator`).
extension SeededGenerator {
    /// Uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(_:) needs a positive bound")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold {
                m = next().multipliedFullWidth(by: n)
            }
        }
        return Int(m.high)
    }

    /// Uniform Float in [0, 1) with 24 random bits.
    @inlinable
    public mutating func unitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform Double in [0, 1) with 53 random bits.
    @inlinable
    public mutating func unitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform Float in [low, high).
    @inlinable
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * unitFloat()
    }

    /// Standard normal draw (Box–Muller on two uniform doubles; one value per call).
    public mutating func normal() -> Double {
        var u1 = unitDouble()
        while u1 <= 0 { u1 = unitDouble() }
        let u2 = unitDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// Fisher–Yates shuffle in place, from the last element down.
    public mutating func shuffle<T>(_ a: inout [T]) {
        var i = a.count - 1
        while i > 0 {
            let j = below(i + 1)
            if i != j { a.swapAt(i, j) }
            i -= 1
        }
    }

    /// A uniformly random permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// `k` distinct values from `0..<n`, in draw order (partial Fisher–Yates).
    public mutating func sample(_ k: Int, from n: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "sample(\(k), from: \(n)) is out of range")
        var p = Array(0..<n)
        for i in 0..<k {
            let j = i + below(n - i)
            p.swapAt(i, j)
        }
        return Array(p[0..<k])
    }
}

// Plain libm calls, so the module needs no Foundation.
#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
