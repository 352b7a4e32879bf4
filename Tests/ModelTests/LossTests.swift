import Engine
import MSCN
import MSCNRandom
import XCTest

/// The score matrix both loss test classes use: diagonal high, off-diagonal spread, hinges away from 0.
let lossTestBatch = 4
let lossTestScores: [Float] = [0.81, 0.40, 0.77, 0.35,
                               0.52, 0.66, 0.30, 0.71,
                               0.45, 0.25, 0.90, 0.33,
                               0.60, 0.33, 0.49, 0.58]

/// Losses: values from their definitions and gradients against central differences (Float32,
/// h = 1e-3 on scores in (0,1); entries kept ≥ 0.02 away from every hinge so no difference
/// crosses a kink; tolerance 2e-3 relative as in EngineTests' `checkGradients`).
final class LossTests: XCTestCase {
    let b = lossTestBatch
    let scores = lossTestScores

    func value(_ f: (Tape, Var) -> Var, _ s: [Float]) -> Float {
        let t = Tape()
        return t.value(f(t, t.leaf(s, shape: [b, b], requiresGrad: true)))[0]
    }

    func assertGradient(_ f: @escaping (Tape, Var) -> Var, h: Float = 1e-3) {
        let t = Tape()
        let x = t.leaf(scores, shape: [b, b], requiresGrad: true)
        t.backward(f(t, x))
        let g = t.grad(x)
        var d2 = 0.0, r2 = 0.0
        for i in 0..<scores.count {
            var p = scores, m = scores
            p[i] += h; m[i] -= h
            let n = (value(f, p) - value(f, m)) / (2 * h)
            d2 += Double(g[i] - n) * Double(g[i] - n); r2 += Double(n) * Double(n)
        }
        XCTAssertGreaterThan(r2, 0)
        XCTAssertLessThan((d2 / r2).squareRoot(), 2e-3)
    }

    func testWarmupLossValueAndGradient() {
        var expected: Float = 0
        for i in 0..<b { for j in 0..<b where i != j {
            expected += max(0, 0.2 + scores[i * b + j] - scores[i * b + i]) / Float(b)
            expected += max(0, 0.2 + scores[i * b + j] - scores[j * b + j]) / Float(b)
        } }
        XCTAssertEqual(value({ Losses.warmup($0, scores: $1, margin: 0.2) }, scores), expected, accuracy: 1e-6)
        assertGradient { Losses.warmup($0, scores: $1, margin: 0.2) }
    }

    func testTrainLossUsesAdaptiveMarginOfCaptionColumn() {
        let m = Losses.adaptiveMargins(scores, b, margin: 0.2)
        for j in 0..<b {
            let p = Double(scores[j * b + j])
            XCTAssertEqual(Double(m[j]), 0.2 * p * p / (p * p + (1 - p) * (1 - p)), accuracy: 1e-6)
        }
        var expected: Float = 0
        for i in 0..<b {
            var best: Float = 0
            for j in 0..<b where j != i { best = max(best, m[j] + scores[i * b + j] - scores[i * b + i]) }
            expected += best
        }
        for j in 0..<b {
            var best: Float = 0
            for i in 0..<b where i != j { best = max(best, m[j] + scores[i * b + j] - scores[j * b + j]) }
            expected += best
        }
        XCTAssertEqual(value({ Losses.train($0, scores: $1, margin: 0.2) }, scores), expected, accuracy: 1e-6)
    }

    /// The margin is detached, so the gradient is that of the hinge with fixed margins.
    func testTrainLossGradientTreatsMarginAsConstant() {
        let m = Losses.adaptiveMargins(scores, b, margin: 0.2)
        let t = Tape()
        let x = t.leaf(scores, shape: [b, b], requiresGrad: true)
        t.backward(Losses.train(t, scores: x, margin: 0.2))
        var expected = [Float](repeating: 0, count: b * b)
        for i in 0..<b {
            var j = i == 0 ? 1 : 0
            for c in 0..<b where c != i {
                let vc: Float = m[c] + scores[i * b + c], vj: Float = m[j] + scores[i * b + j]
                if vc > vj { j = c }
            }
            if m[j] + scores[i * b + j] - scores[i * b + i] > 0 { expected[i * b + j] += 1; expected[i * b + i] -= 1 }
        }
        for j in 0..<b {
            var i = j == 0 ? 1 : 0
            for r in 0..<b where r != j && scores[r * b + j] > scores[i * b + j] { i = r }
            if m[j] + scores[i * b + j] - scores[j * b + j] > 0 { expected[i * b + j] += 1; expected[j * b + j] -= 1 }
        }
        XCTAssertEqual(t.grad(x), expected)
    }

    func testBCEValueAndGradient() {
        let labels: [Float] = [1, 1, 0, 0]
        let p: [Float] = [0.9, 0.3, 0.2, 0.6]
        let f: (Tape, Var) -> Var = { t, x in Losses.bce(t, probabilities: t.reshape(t.sliceRows(t.reshape(x, [16]), start: 0, count: 4), [4, 1]), labels: labels) }
        var s = scores
        for i in 0..<4 { s[i] = p[i] }
        let expected = -(log(0.9) + log(0.3) + log(0.8) + log(0.4)) / 4
        XCTAssertEqual(Double(value(f, s)), expected, accuracy: 1e-6)
        let t = Tape()
        let x = t.leaf(s, shape: [b, b], requiresGrad: true)
        t.backward(f(t, x))
        for i in 0..<4 { XCTAssertEqual(t.grad(x)[i], (p[i] - labels[i]) / (p[i] * (1 - p[i])) / 4, accuracy: 1e-5) }
    }
}

/// The standard (comparison-row) loss: hardest negatives with one fixed margin.
final class HardestNegativeLossTests: XCTestCase {
    let b = lossTestBatch
    let scores = lossTestScores

    func value(_ s: [Float]) -> Float {
        let t = Tape()
        return t.value(Losses.hardestNegative(t, scores: t.leaf(s, shape: [b, b], requiresGrad: true), margin: 0.2))[0]
    }

    func testValueUsesTheFixedMarginNotTheAdaptiveOne() {
        var expected: Float = 0
        for i in 0..<b {
            var best: Float = 0
            for j in 0..<b where j != i { best = max(best, 0.2 + scores[i * b + j] - scores[i * b + i]) }
            expected += best
        }
        for j in 0..<b {
            var best: Float = 0
            for i in 0..<b where i != j { best = max(best, 0.2 + scores[i * b + j] - scores[j * b + j]) }
            expected += best
        }
        XCTAssertEqual(value(scores), expected, accuracy: 1e-6)
        let t = Tape()
        let adaptive = t.value(Losses.train(t, scores: t.leaf(scores, shape: [b, b], requiresGrad: false), margin: 0.2))[0]
        XCTAssertGreaterThan(abs(adaptive - expected), 0.05, "the fixture must tell the two losses apart")
    }

    /// Central differences (h = 1e-3; every active hinge and argmax is ≥ 0.02 from a tie).
    func testGradientMatchesFiniteDifferences() {
        let t = Tape()
        let x = t.leaf(scores, shape: [b, b], requiresGrad: true)
        t.backward(Losses.hardestNegative(t, scores: x, margin: 0.2))
        let g = t.grad(x)
        let h: Float = 1e-3
        var d2 = 0.0, r2 = 0.0
        for i in 0..<scores.count {
            var p = scores, m = scores
            p[i] += h; m[i] -= h
            let n = (value(p) - value(m)) / (2 * h)
            d2 += Double(g[i] - n) * Double(g[i] - n); r2 += Double(n) * Double(n)
        }
        XCTAssertGreaterThan(r2, 0)
        XCTAssertLessThan((d2 / r2).squareRoot(), 2e-3)
    }
}
