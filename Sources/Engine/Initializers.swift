import MSCNRandom

/// Parameter initialisers drawing from the project's seeded generator.
public enum Initializers {
    /// Xavier (Glorot) uniform for a `[out, in]` weight: U(−r, r), r = sqrt(6/(in+out)).
    public static func xavierUniform(out: Int, in inF: Int, using g: inout SeededGenerator) -> [Float] {
        let r = Float((6.0 / Double(inF + out)).squareRoot())
        return uniform(count: out * inF, low: -r, high: r, using: &g)
    }

    /// U(low, high) values.
    public static func uniform(count: Int, low: Float, high: Float, using g: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in low + (high - low) * g.unitFloat() }
    }
}
