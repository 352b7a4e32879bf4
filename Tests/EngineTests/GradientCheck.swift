import Engine
import MSCNRandom
import XCTest

/// Central-difference check of a tape's gradients.
///
/// The engine is Float32 only, so differences are taken in Float32 on `L = Σ w ⊙ f(x)` with
/// fixed random weights w. With step h = 1e-2 the truncation error is O(h²) ≈ 1e-4 relative and
/// the rounding error ≈ 6e-8·|L|/h ≈ 1e-5, so the relative L2 error of a correct gradient sits
/// around 1e-4; a wrong term shows up at ≥ 1e-2. Inputs of kinked ops are kept ≥ 0.05 from
/// their kinks (larger than h), so no difference straddles one.
func checkGradients(_ inputs: [Tensor], h: Float = 1e-2, tolerance: Double = 2e-3,
                    file: StaticString = #filePath, line: UInt = #line,
                    _ build: (Tape, [Var]) -> Var) {
    var g = SeededGenerator(seed: 99, stream: "gradcheck")
    func loss(_ xs: [Tensor], weights: [Float]) -> Float {
        let t = Tape()
        let out = build(t, xs.map { t.leaf($0, requiresGrad: true) })
        return zip(t.value(out), weights).reduce(Float(0)) { $0 + $1.0 * $1.1 }
    }
    let t = Tape()
    let vars = inputs.map { t.leaf($0, requiresGrad: true) }
    let out = build(t, vars)
    let w = (0..<t.value(out).count).map { _ in g.unitFloat() * 2 - 1 }
    t.backward(out, seed: w)  // dL/dout = w
    for (k, x) in inputs.enumerated() {
        let analytic = t.grad(vars[k])
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var plus = inputs, minus = inputs
            plus[k].data[i] += h
            minus[k].data[i] -= h
            numeric[i] = (loss(plus, weights: w) - loss(minus, weights: w)) / (2 * h)
        }
        var d2 = 0.0, r2 = 0.0
        for (a, n) in zip(analytic, numeric) { d2 += Double(a - n) * Double(a - n); r2 += Double(n) * Double(n) }
        XCTAssertGreaterThan(r2, 0, "input \(k): numeric gradient is zero, the check would be vacuous", file: file, line: line)
        let rel = r2 > 0 ? (d2 / r2).squareRoot() : d2.squareRoot()
        XCTAssertLessThan(rel, tolerance, "input \(k): relative gradient error \(rel)", file: file, line: line)
    }
}

/// Random values in ±scale, kept at least `gap` away from zero (for kinked ops).
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, gap: Float = 0) -> Tensor {
    var g = SeededGenerator(seed: seed, stream: "tensor")
    let n = shape.reduce(1, *)
    let data: [Float] = (0..<n).map { _ in
        let m = gap + (scale - gap) * g.unitFloat()
        return g.unitFloat() < 0.5 ? -m : m
    }
    return Tensor(shape: shape, data: data)
}
