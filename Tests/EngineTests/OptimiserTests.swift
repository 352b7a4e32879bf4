import Engine
import Foundation
import MSCNRandom
import XCTest

final class OptimiserTests: XCTestCase {
    /// Two Adam steps written out from torch.optim.Adam's update rule, in Double.
    func testAdamMatchesPyTorchRule() {
        var adam = Adam()
        var p: [Float] = [0.5, -1, 2]
        let g1: [Float] = [0.1, -0.2, 1e-9], g2: [Float] = [0.3, 0.1, -0.5]
        let lr: Float = 0.01
        adam.step("w", param: &p, grad: g1, lr: lr)
        adam.step("w", param: &p, grad: g2, lr: lr)
        var expected: [Double] = [0.5, -1, 2]
        var m = [0.0, 0, 0], v = [0.0, 0, 0]
        for (t, g) in [g1, g2].enumerated() {
            for i in 0..<3 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                expected[i] -= Double(lr) * mh / (vh.squareRoot() + 1e-8)
            }
        }
        for i in 0..<3 { XCTAssertEqual(Double(p[i]), expected[i], accuracy: 1e-6) }
        XCTAssertEqual(adam.steps["w"], 2)
    }

    func testClipGradNormUsesTorchFormula() {
        var grads: [String: [Float]] = ["a": [3, 0], "b": [4]]
        let total = clipGradNorm(&grads, maxNorm: 2)
        XCTAssertEqual(total, 5, accuracy: 1e-6)
        let coef: Float = 2 / (5 + 1e-6)
        XCTAssertEqual(grads["a"]?[0] ?? 0, 3 * coef, accuracy: 1e-7)
        XCTAssertEqual(grads["b"]?[0] ?? 0, 4 * coef, accuracy: 1e-7)
        var small: [String: [Float]] = ["a": [0.3]]
        clipGradNorm(&small, maxNorm: 2)
        XCTAssertEqual(small["a"], [0.3])
    }

    func testXavierUniformRangeAndDeterminism() {
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        let a = Initializers.xavierUniform(out: 30, in: 50, using: &g1)
        let b = Initializers.xavierUniform(out: 30, in: 50, using: &g2)
        XCTAssertEqual(a, b)
        let r = Float((6.0 / 80).squareRoot())
        XCTAssertTrue(a.allSatisfy { abs($0) <= r })
        XCTAssertGreaterThan(a.map(abs).max() ?? 0, 0.9 * r)
    }

    func testDropoutReplaysMasks() {
        let src = DropoutSource(generator: SeededGenerator(seed: 3))
        let m = src.mask(count: 1000, p: 0.4)
        let kept = m.filter { $0 > 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.6) < 1e-6 })
        XCTAssertEqual(Double(kept.count) / 1000, 0.6, accuracy: 0.06)
        let replay = DropoutSource(replaying: src.recorded)
        XCTAssertEqual(replay.mask(count: 1000, p: 0.4), m)
    }
}
