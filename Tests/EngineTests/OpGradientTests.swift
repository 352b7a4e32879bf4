import Engine
import MSCNRandom
import XCTest

/// Finite-difference checks of every hand-written backward in Engine (see `checkGradients`).
final class OpGradientTests: XCTestCase {
    func testLinear() {
        checkGradients([randomTensor([2, 3, 5], seed: 1), randomTensor([4, 5], seed: 2), randomTensor([4], seed: 3)]) { t, v in
            t.linear(v[0], v[1], v[2])
        }
    }

    func testBatchedMatmul() {
        checkGradients([randomTensor([2, 3, 4], seed: 4), randomTensor([2, 4, 5], seed: 5)]) { t, v in t.bmm(v[0], v[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 6), randomTensor([2, 5, 4], seed: 7)]) { t, v in t.bmm(v[0], v[1], transB: true) }
    }

    func testNormalisations() {
        checkGradients([randomTensor([3, 6], seed: 8)]) { t, v in t.l2norm(v[0]) }
        checkGradients([randomTensor([3, 6], seed: 9, gap: 0.05)]) { t, v in t.l1norm(v[0]) }
        checkGradients([randomTensor([3, 6], seed: 10, scale: 3)]) { t, v in t.softmax(v[0]) }
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
        let x = randomTensor([4, 5], seed: 11, scale: 2, gap: 0.05)
        checkGradients([x]) { t, v in t.relu(v[0]) }
        checkGradients([x]) { t, v in t.leakyReLU(v[0], slope: 0.1) }
        checkGradients([x]) { t, v in t.tanh(v[0]) }
        checkGradients([x]) { t, v in t.sigmoid(v[0]) }
        checkGradients([x]) { t, v in t.square(v[0]) }
        checkGradients([x]) { t, v in t.scale(v[0], 9) }
        checkGradients([x]) { t, v in t.mask(v[0], (0..<20).map { Float($0 % 3) }) }
        checkGradients([x, randomTensor([4, 5], seed: 12)]) { t, v in t.add(v[0], v[1]) }
        checkGradients([x, randomTensor([5], seed: 13)]) { t, v in t.subBroadcast(v[0], v[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 14), randomTensor([2, 4], seed: 15)]) { t, v in
            t.mulBroadcastMiddle(v[0], v[1], middle: 3)
        }
    }

    func testShapeOps() {
        let x = randomTensor([3, 4, 2], seed: 16)
        checkGradients([randomTensor([6, 3], seed: 17)]) { t, v in t.gather(v[0], ids: [5, 0, 5, 2]) }
        checkGradients([x]) { t, v in t.meanMiddle(v[0], counts: [4, 1, 2]) }
        checkGradients([x, randomTensor([3, 4], seed: 18)]) { t, v in t.weightedSumMiddle(v[0], v[1]) }
        checkGradients([x]) { t, v in t.sliceRows(v[0], start: 1, count: 2) }
        checkGradients([x, randomTensor([2, 4, 2], seed: 19)]) { t, v in t.concatRows([v[0], v[1]]) }
        checkGradients([x]) { t, v in t.sum(t.square(v[0])) }
        checkGradients([x]) { t, v in t.reshape(v[0], [12, 2]) }
        checkGradients([x]) { t, v in t.transposeLast2(v[0]) }
        checkGradients([x]) { t, v in t.permute01(v[0]) }
        checkGradients([randomTensor([4, 2], seed: 20)]) { t, v in t.repeatFirst(v[0], 3) }
        checkGradients([x, randomTensor([3, 1, 2], seed: 21)]) { t, v in t.concatMiddle([v[1], v[0]]) }
        checkGradients([x]) { t, v in t.selectMiddle(v[0], 2) }
    }

    func testBatchNormTrainingAndEval() {
        for training in [true, false] {
            var buf = BatchNormBuffers(channels: 3)
            buf.runningMean = [0.1, -0.2, 0.3]
            buf.runningVar = [0.5, 1.5, 2]
            checkGradients([randomTensor([4, 3, 5], seed: 22), randomTensor([3], seed: 23), randomTensor([3], seed: 24)]) { t, v in
                var b = buf
                return t.batchNorm(v[0], weight: v[1], bias: v[2], buffers: &b, training: training, update: false)
            }
        }
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
        let h = 3, w = 2
        var inputs = [randomTensor([3, 4, w], seed: 30)]
        for s in 0..<8 {
            let shape = [[3 * h, w], [3 * h, h], [3 * h], [3 * h]][s % 4]
            inputs.append(randomTensor(shape, seed: UInt64(31 + s), scale: 0.8))
        }
        checkGradients(inputs) { t, v in
            t.biGRU(v[0], lengths: [4, 1, 3],
                    forward: GRUWeights(ih: v[1], hh: v[2], bih: v[3], bhh: v[4]),
                    backward: GRUWeights(ih: v[5], hh: v[6], bih: v[7], bhh: v[8]))
        }
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
