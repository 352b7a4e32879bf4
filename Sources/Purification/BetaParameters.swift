import Foundation

/// A problem that makes a Beta fit or the mixture meaningless (no silent NaNs).
public struct PurificationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A Beta distribution's shape parameters. Encodes to JSON as the pair `[alpha, beta]`, the form
/// the reference's `bmm.json` uses.
public struct BetaParameters: Codable, Equatable, Sendable {
    public var alpha: Double
    public var beta: Double

    public init(alpha: Double, beta: Double) {
        self.alpha = alpha
        self.beta = beta
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        alpha = try c.decode(Double.self)
        beta = try c.decode(Double.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(alpha)
        try c.encode(beta)
    }

    /// `log B(alpha, beta)` through `lgamma`.
    public var logNormaliser: Double { lgamma(alpha) + lgamma(beta) - lgamma(alpha + beta) }

    /// Log density at `x` in (0, 1).
    public func logDensity(_ x: Double) -> Double {
        (alpha - 1) * log(x) + (beta - 1) * log1p(-x) - logNormaliser
    }

    /// Weighted method of moments: weighted mean `m`, biased weighted variance `v`,
    /// `alpha = m·(m(1−m)/v − 1)`, `beta = alpha·(1−m)/m`. Without `weights`, all weigh 1.
    ///
    /// Throws when there is nothing to fit (no values, zero total weight), when the values do not
    /// vary (zero variance), or when the moments admit no Beta (`v ≥ m(1−m)`).
    public static func fitMoments(_ x: [Double], weights: [Double]? = nil, what: String = "scores") throws -> BetaParameters {
        guard !x.isEmpty else { throw PurificationError("cannot fit a Beta to empty \(what)") }
        if let w = weights, w.count != x.count {
            throw PurificationError("\(what): \(x.count) values but \(w.count) weights")
        }
        var total = 0.0, sum = 0.0
        for i in x.indices {
            let w = weights?[i] ?? 1
            total += w
            sum += w * x[i]
        }
        guard total > 0, total.isFinite else { throw PurificationError("cannot fit a Beta to \(what): total weight is \(total)") }
        let m = sum / total
        var sq = 0.0
        for i in x.indices {
            let d = x[i] - m
            sq += (weights?[i] ?? 1) * d * d
        }
        let v = sq / total
        guard v > 0 else { throw PurificationError("cannot fit a Beta to \(what): all values are equal (\(m)), variance is zero") }
        guard m > 0, m < 1, v < m * (1 - m) else {
            throw PurificationError("cannot fit a Beta to \(what): mean \(m) and variance \(v) admit no Beta distribution")
        }
        let a = m * (m * (1 - m) / v - 1)
        let b = a * (1 - m) / m
        guard a.isFinite, b.isFinite, a > 0, b > 0 else {
            throw PurificationError("cannot fit a Beta to \(what): moments give alpha \(a), beta \(b)")
        }
        return BetaParameters(alpha: a, beta: b)
    }
}
