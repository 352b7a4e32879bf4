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
        checkTangents([randomTensor([2, 3, 5], seed: 1), randomTensor([4, 5], seed: 2), randomTensor([4], seed: 3)]) { t, v in
            t.linear(v[0], v[1], v[2])
        }
        checkTangents([randomTensor([2, 3, 4], seed: 4), randomTensor([2, 4, 5], seed: 5)]) { t, v in t.bmm(v[0], v[1]) }
        checkTangents([randomTensor([2, 3, 4], seed: 6), randomTensor([2, 5, 4], seed: 7)]) { t, v in t.bmm(v[0], v[1], transB: true) }
        checkTangents([randomTensor([2, 3, 4], seed: 14), randomTensor([2, 4], seed: 15)]) { t, v in
            t.mulBroadcastMiddle(v[0], v[1], middle: 3)
        }
        checkTangents([randomTensor([3, 4, 2], seed: 16), randomTensor([3, 4], seed: 18)]) { t, v in t.weightedSumMiddle(v[0], v[1]) }
    }

    func testNormalisations() {
        checkTangents([randomTensor([3, 6], seed: 8)]) { t, v in t.l2norm(v[0]) }
        checkTangents([randomTensor([3, 6], seed: 9, gap: 0.05)]) { t, v in t.l1norm(v[0]) }
        checkTangents([randomTensor([3, 6], seed: 10, scale: 3)]) { t, v in t.softmax(v[0]) }
    }

    func testElementwise() {
        let x = randomTensor([4, 5], seed: 11, scale: 2, gap: 0.05)
        checkTangents([x]) { t, v in t.relu(v[0]) }
        checkTangents([x]) { t, v in t.leakyReLU(v[0], slope: 0.1) }
        checkTangents([x]) { t, v in t.tanh(v[0]) }
        checkTangents([x]) { t, v in t.sigmoid(v[0]) }
        checkTangents([x]) { t, v in t.square(v[0]) }
        checkTangents([x]) { t, v in t.scale(v[0], 9) }
        checkTangents([x]) { t, v in t.mask(v[0], (0..<20).map { Float($0 % 3) }) }
        checkTangents([x, randomTensor([4, 5], seed: 12)]) { t, v in t.add(v[0], v[1]) }
        checkTangents([x, randomTensor([5], seed: 13)]) { t, v in t.subBroadcast(v[0], v[1]) }
    }

    func testShapeOps() {
        let x = randomTensor([3, 4, 2], seed: 16)
        checkTangents([randomTensor([6, 3], seed: 17)]) { t, v in t.gather(v[0], ids: [5, 0, 5, 2]) }
        checkTangents([x]) { t, v in t.meanMiddle(v[0], counts: [4, 1, 2]) }
        checkTangents([x]) { t, v in t.sliceRows(v[0], start: 1, count: 2) }
        checkTangents([x, randomTensor([2, 4, 2], seed: 19)]) { t, v in t.concatRows([v[0], v[1]]) }
        checkTangents([x]) { t, v in t.sum(t.square(v[0])) }
        checkTangents([x]) { t, v in t.reshape(v[0], [12, 2]) }
        checkTangents([x]) { t, v in t.transposeLast2(v[0]) }
        checkTangents([x]) { t, v in t.permute01(v[0]) }
        checkTangents([randomTensor([4, 2], seed: 20)]) { t, v in t.repeatFirst(v[0], 3) }
        checkTangents([x, randomTensor([3, 1, 2], seed: 21)]) { t, v in t.concatMiddle([v[1], v[0]]) }
        checkTangents([x]) { t, v in t.selectMiddle(v[0], 2) }
    }

    func testBatchNormTrainingAndEval() {
        for training in [true, false] {
            var buf = BatchNormBuffers(channels: 3)
            buf.runningMean = [0.1, -0.2, 0.3]
            buf.runningVar = [0.5, 1.5, 2]
            checkTangents([randomTensor([4, 3, 5], seed: 22), randomTensor([3], seed: 23), randomTensor([3], seed: 24)]) { t, v in
                var b = buf
                return t.batchNorm(v[0], weight: v[1], bias: v[2], buffers: &b, training: training, update: false)
            }
        }
    }

    func testBidirectionalGRU() {
        let h = 3, w = 2
        var inputs = [randomTensor([3, 4, w], seed: 30)]
        for s in 0..<8 {
            let shape = [[3 * h, w], [3 * h, h], [3 * h], [3 * h]][s % 4]
            inputs.append(randomTensor(shape, seed: UInt64(31 + s), scale: 0.8))
        }
        checkTangents(inputs) { t, v in
            t.biGRU(v[0], lengths: [4, 1, 3],
                    forward: GRUWeights(ih: v[1], hh: v[2], bih: v[3], bhh: v[4]),
                    backward: GRUWeights(ih: v[5], hh: v[6], bih: v[7], bhh: v[8]))
        }
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
