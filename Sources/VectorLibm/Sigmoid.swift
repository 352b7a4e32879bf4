/// The logistic function `1 / (1 + e^−x)` with `ExpF`'s exponential: the operations of
/// `1 / (1 + expf(-x))`, so the same bits as with glibc 2.36's FMA `expf`.
public enum Sigmoid {
    public static func value(_ x: Float) -> Float { 1 / (1 + ExpF.value(-x)) }

    /// `y[i] = σ(x[i])` for `i < count`; `x` and `y` may be the same buffer.
    public static func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { y[i] = -x[i] }
        ExpF.apply(y, y, count)
        for i in 0..<count { y[i] = 1 / (1 + y[i]) }
    }
}
