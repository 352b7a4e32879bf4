import Engine
import MSCNRandom
import XCTest

/// Forward-mode tangent rules (`Tape+Tangent.swift`, `Ops+Tangent.swift`, `GRU+Tangent.swift`)
/// against central differences of the op along the same direction.
///
/// The engine is Float32, so f(x ± h·δ) are Float32 forwards; their difference and the error
/// norms are taken in Double. With h = 1e-2 a correct rule sits at a relative L2 error around
/// 1e-4 (truncation O(h²), rounding ≈ 6e-8/h), a wrong term at ≥ 1e-2. Inputs of kinked ops are
/// kept ≥ 0.05 from their kinks (larger than h), so no difference straddles one. Every case is
/// also run with a tangent on only one input (`only`), which catches a rule that ignores the
/// tangent of a particular input or mixes them up.
func checkTangents(_ inputs: [Tensor], h: Float = 1e-2, tolerance: Double = 2e-3,
                   file: StaticString = #filePath, line: UInt = #line,
                   _ build: (Tape, [Var]) -> Var) {
    var g = SeededGenerator(seed: 77, stream: "tangentcheck")
    let directions = inputs.map { x in (0..<x.count).map { _ in g.unitFloat() * 2 - 1 } }
    func value(_ xs: [Tensor]) -> [Float] {
        let t = Tape()
        return t.value(build(t, xs.map { t.leaf($0, requiresGrad: true) }))
    }
    for only in [nil] + inputs.indices.map({ Optional($0) }) {
        let active = inputs.indices.filter { only == nil || only == $0 }
        let t = Tape()
        t.tangentMode = true
        let vars = inputs.map { t.leaf($0, requiresGrad: true) }
        for k in active { t.setTangent(vars[k], directions[k]) }
        let out = build(t, vars)
        guard let analytic = t.tangent(of: out) else {
            XCTFail("no tangent reached the output (inputs \(active))", file: file, line: line)
            continue
        }
        var plus = inputs, minus = inputs
        for k in active {
            for i in 0..<inputs[k].count { plus[k].data[i] += h * directions[k][i]; minus[k].data[i] -= h * directions[k][i] }
        }
        let p = value(plus), m = value(minus)
        var d2 = 0.0, r2 = 0.0
        for i in analytic.indices {
            let numeric = (Double(p[i]) - Double(m[i])) / (2 * Double(h))
            d2 += (Double(analytic[i]) - numeric) * (Double(analytic[i]) - numeric); r2 += numeric * numeric
        }
        if only == nil {
            XCTAssertGreaterThan(r2, 0, "numeric tangent is zero, the check would be vacuous", file: file, line: line)
        }
        let rel = r2 > 0 ? (d2 / r2).squareRoot() : d2.squareRoot()
        XCTAssertLessThan(rel, tolerance, "tangent along inputs \(active): relative error \(rel)", file: file, line: line)
    }
}

final class TangentTests: XCTestCase {
    func testLinearAndProducts() {
        checkTangents(OpCases.products)
    }

    func testNormalisations() {
        checkTangents(OpCases.normalisations)
    }

    func testElementwise() {
        checkTangents(OpCases.elementwise)
    }

    func testShapeOps() {
        checkTangents(OpCases.shape)
    }

    func testBatchNormTrainingAndEval() {
        checkTangents(OpCases.batchNorm)
    }

    func testBidirectionalGRU() {
        checkTangents([OpCases.biGRU])
    }

    /// A chain of ops (as in the model) carries the tangent through every link.
    func testComposition() {
        checkTangents([randomTensor([2, 5, 4], seed: 40), randomTensor([3, 4], seed: 41), randomTensor([3], seed: 42)]) { t, v in
            let a = t.l2norm(t.tanh(t.linear(v[0], v[1], v[2])))
            return t.softmax(t.scale(t.bmm(a, a, transB: true), 3))
        }
    }

    /// Without tangent mode nothing is stored, and a constant input gives no tangent.
    func testConstantsHaveNoTangent() {
        let t = Tape()
        t.tangentMode = true
        let x = t.leaf(randomTensor([2, 3], seed: 43), requiresGrad: true)
        let c = t.leaf(randomTensor([2, 3], seed: 44), requiresGrad: false)
        XCTAssertNil(t.tangent(of: t.add(x, c)))
        t.setTangent(x, [Float](repeating: 1, count: 6))
        XCTAssertEqual(t.tangent(of: t.add(x, c)), [Float](repeating: 1, count: 6))
        XCTAssertNil(t.tangent(of: t.relu(c)))
    }
}
