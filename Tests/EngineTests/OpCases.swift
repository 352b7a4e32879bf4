import Engine
import XCTest

/// One differentiable op on fixed inputs. Each case remembers where it is written, so a failing
/// check points at its line here.
struct OpCase {
    let inputs: [Tensor]
    let build: (Tape, [Var]) -> Var
    let file: StaticString
    let line: UInt

    init(_ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line, _ build: @escaping (Tape, [Var]) -> Var) {
        self.inputs = inputs
        self.build = build
        self.file = file
        self.line = line
    }
}

/// The Engine's ops and their inputs, walked by both the backward checks (`OpGradientTests`) and
/// the tangent checks (`TangentTests`): a new op entered here is checked both ways. Inputs of
/// kinked ops keep ≥ 0.05 from their kinks (see `checkGradients`, `checkTangents`).
enum OpCases {
    static var products: [OpCase] {
        [
            OpCase([randomTensor([2, 3, 5], seed: 1), randomTensor([4, 5], seed: 2), randomTensor([4], seed: 3)]) { t, v in
                t.linear(v[0], v[1], v[2])
            },
            OpCase([randomTensor([2, 3, 4], seed: 4), randomTensor([2, 4, 5], seed: 5)]) { t, v in t.bmm(v[0], v[1]) },
            OpCase([randomTensor([2, 3, 4], seed: 6), randomTensor([2, 5, 4], seed: 7)]) { t, v in t.bmm(v[0], v[1], transB: true) },
        ]
    }

    static var normalisations: [OpCase] {
        [
            OpCase([randomTensor([3, 6], seed: 8)]) { t, v in t.l2norm(v[0]) },
            OpCase([randomTensor([3, 6], seed: 9, gap: 0.05)]) { t, v in t.l1norm(v[0]) },
            OpCase([randomTensor([3, 6], seed: 10, scale: 3)]) { t, v in t.softmax(v[0]) },
        ]
    }

    static var elementwise: [OpCase] {
        let x = randomTensor([4, 5], seed: 11, scale: 2, gap: 0.05)
        return [
            OpCase([x]) { t, v in t.relu(v[0]) },
            OpCase([x]) { t, v in t.leakyReLU(v[0], slope: 0.1) },
            OpCase([x]) { t, v in t.tanh(v[0]) },
            OpCase([x]) { t, v in t.sigmoid(v[0]) },
            OpCase([x]) { t, v in t.square(v[0]) },
            OpCase([x]) { t, v in t.scale(v[0], 9) },
            OpCase([x]) { t, v in t.mask(v[0], (0..<20).map { Float($0 % 3) }) },
            OpCase([x, randomTensor([4, 5], seed: 12)]) { t, v in t.add(v[0], v[1]) },
            OpCase([x, randomTensor([5], seed: 13)]) { t, v in t.subBroadcast(v[0], v[1]) },
            OpCase([randomTensor([2, 3, 4], seed: 14), randomTensor([2, 4], seed: 15)]) { t, v in
                t.mulBroadcastMiddle(v[0], v[1], middle: 3)
            },
        ]
    }

    static var shape: [OpCase] {
        let x = randomTensor([3, 4, 2], seed: 16)
        return [
            OpCase([randomTensor([6, 3], seed: 17)]) { t, v in t.gather(v[0], ids: [5, 0, 5, 2]) },
            OpCase([x]) { t, v in t.meanMiddle(v[0], counts: [4, 1, 2]) },
            OpCase([x, randomTensor([3, 4], seed: 18)]) { t, v in t.weightedSumMiddle(v[0], v[1]) },
            OpCase([x]) { t, v in t.sliceRows(v[0], start: 1, count: 2) },
            OpCase([x, randomTensor([2, 4, 2], seed: 19)]) { t, v in t.concatRows([v[0], v[1]]) },
            OpCase([x]) { t, v in t.sum(t.square(v[0])) },
            OpCase([x]) { t, v in t.reshape(v[0], [12, 2]) },
            OpCase([x]) { t, v in t.transposeLast2(v[0]) },
            OpCase([x]) { t, v in t.permute01(v[0]) },
            OpCase([randomTensor([4, 2], seed: 20)]) { t, v in t.repeatFirst(v[0], 3) },
            OpCase([x, randomTensor([3, 1, 2], seed: 21)]) { t, v in t.concatMiddle([v[1], v[0]]) },
            OpCase([x]) { t, v in t.selectMiddle(v[0], 2) },
        ]
    }

    /// Batch norm in training and in eval mode, with non-trivial running statistics.
    static var batchNorm: [OpCase] {
        [true, false].map { training in
            var buf = BatchNormBuffers(channels: 3)
            buf.runningMean = [0.1, -0.2, 0.3]
            buf.runningVar = [0.5, 1.5, 2]
            return OpCase([randomTensor([4, 3, 5], seed: 22), randomTensor([3], seed: 23), randomTensor([3], seed: 24)]) { t, v in
                var b = buf
                return t.batchNorm(v[0], weight: v[1], bias: v[2], buffers: &b, training: training, update: false)
            }
        }
    }

    /// A bidirectional GRU over captions of lengths 4, 1 and 3 (inputs: words, then both
    /// directions' weights).
    static var biGRU: OpCase {
        let h = 3, w = 2
        var inputs = [randomTensor([3, 4, w], seed: 30)]
        for s in 0..<8 {
            let shape = [[3 * h, w], [3 * h, h], [3 * h], [3 * h]][s % 4]
            inputs.append(randomTensor(shape, seed: UInt64(31 + s), scale: 0.8))
        }
        return OpCase(inputs) { t, v in
            t.biGRU(v[0], lengths: [4, 1, 3],
                    forward: GRUWeights(ih: v[1], hh: v[2], bih: v[3], bhh: v[4]),
                    backward: GRUWeights(ih: v[5], hh: v[6], bih: v[7], bhh: v[8]))
        }
    }
}

func checkGradients(_ cases: [OpCase]) {
    for c in cases { checkGradients(c.inputs, file: c.file, line: c.line, c.build) }
}

func checkTangents(_ cases: [OpCase]) {
    for c in cases { checkTangents(c.inputs, file: c.file, line: c.line, c.build) }
}
