import Engine
import MSCNRandom
import XCTest

/// Finite-difference checks of every hand-written backward in Engine (see `checkGradients`).
final class OpGradientTests: XCTestCase {
    func testLinearAndProducts() {
        checkGradients(OpCases.products)
    }

    func testNormalisations() {
        checkGradients(OpCases.normalisations)
    }

    func testL2NormKeepsZeroRowsZero() {
        let t = Tape()
        let x = t.leaf(Tensor(shape: [2, 3], data: [0, 0, 0, 3, 4, 0]), requiresGrad: true)
        let y = t.l2norm(x)
        XCTAssertEqual(Array(t.value(y)[0..<3]), [0, 0, 0])
        XCTAssertEqual(t.value(y)[3], 3 / (5 + 1e-8), accuracy: 1e-7)
        t.backward(y)
        XCTAssertTrue(t.grad(x).allSatisfy { $0.isFinite })
    }

    func testElementwise() {
        checkGradients(OpCases.elementwise)
    }

    func testShapeOps() {
        checkGradients(OpCases.shape)
    }

    func testBatchNormTrainingAndEval() {
        checkGradients(OpCases.batchNorm)
    }

    func testBatchNormRunningStatistics() {
        let x: [Float] = [1, 2, 3, 4, 6, 8]  // [n=3, C=1, l=2]
        let t = Tape()
        var b = BatchNormBuffers(channels: 1)
        let xv = t.leaf(Tensor(shape: [3, 1, 2], data: x), requiresGrad: false)
        let w = t.leaf(Tensor(shape: [1], data: [1]), requiresGrad: false), bias = t.leaf(Tensor(shape: [1], data: [0]), requiresGrad: false)
        let y = t.batchNorm(xv, weight: w, bias: bias, buffers: &b, training: true, update: true)
        let mean = x.reduce(0, +) / 6
        let ss = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
        XCTAssertEqual(b.runningMean[0], 0.1 * mean, accuracy: 1e-6)
        XCTAssertEqual(b.runningVar[0], 0.9 + 0.1 * ss / 5, accuracy: 1e-6)  // unbiased
        XCTAssertEqual(b.numBatchesTracked, 1)
        XCTAssertEqual(t.value(y)[0], (1 - mean) / (ss / 6 + 1e-5).squareRoot(), accuracy: 1e-5)  // biased
    }

    func testBidirectionalGRU() {
        checkGradients([OpCases.biGRU])
    }

    func testGRUIgnoresPaddingAndReadsBackwardFromLastWord() {
        let h = 2, w = 2
        var params: [Tensor] = []
        for s in 0..<8 { params.append(randomTensor([[3 * h, w], [3 * h, h], [3 * h], [3 * h]][s % 4], seed: UInt64(50 + s))) }
        func run(_ x: Tensor, _ lengths: [Int]) -> [Float] {
            let t = Tape()
            let v = t.leaf(x, requiresGrad: false)
            let p = params.map { t.leaf($0, requiresGrad: false) }
            return t.value(t.biGRU(v, lengths: lengths, forward: GRUWeights(ih: p[0], hh: p[1], bih: p[2], bhh: p[3]),
                                   backward: GRUWeights(ih: p[4], hh: p[5], bih: p[6], bhh: p[7])))
        }
        var x = randomTensor([1, 4, w], seed: 60)
        let a = run(x, [2])
        x.data[4] = 100; x.data[7] = -50  // padding words
        let b = run(x, [2])
        XCTAssertEqual(a, b)
        XCTAssertEqual(Array(a[4...]), [Float](repeating: 0, count: 4))
        // The same two words alone give the same outputs.
        let c = run(Tensor(shape: [1, 2, w], data: Array(x.data[0..<4])), [2])
        XCTAssertEqual(Array(a[0..<4]), c)
    }
}
