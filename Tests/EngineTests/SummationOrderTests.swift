@testable import Engine
import MSCNRandom
import XCTest

/// The ops whose sums run several rows' or channels' chains side by side (`StridedSums.swift`)
/// and whose elementwise loops run through raw pointers must keep the bits of the plain scalar
/// loops they replaced: every published artefact was computed with those. The references below
/// are those loops, written out; the shapes take the vector paths (8 and 4 lanes) and their
/// remainders, and the values span several orders of magnitude so a changed order would show.
final class SummationOrderTests: XCTestCase {
    /// Values from 1e-3 to 1e3 in magnitude, both signs.
    func wideValues(_ count: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed, stream: "summation-order")
        return (0..<count).map { _ in
            let m = Float(pow(10, Double(g.unitFloat()) * 6 - 3))
            return g.unitFloat() < 0.5 ? -m : m
        }
    }

    func testStridedSumsAddEachRowInOrder() {
        for (rows, n) in [(8, 5), (19, 33), (3, 7), (16, 1)] {
            let x = wideValues(rows * n, seed: UInt64(rows * 100 + n))
            let sums = rowSums(rows: rows, n: n) { r, c in x[r * n + c] * x[r * n + c] }
            for r in 0..<rows {
                var s: Float = 0
                for c in 0..<n { s += x[r * n + c] * x[r * n + c] }
                XCTAssertEqual(sums[r].bitPattern, s.bitPattern, "row \(r) of \(rows)×\(n)")
            }
        }
        for (n, c, l) in [(3, 36, 5), (2, 13, 7), (4, 3, 2), (5, 8, 1)] {
            let x = wideValues(n * c * l, seed: UInt64(n * 1000 + c * 10 + l))
            let sums = channelSums(n: n, c: c, l: l) { k, _ in Double(x[k]) }
            for ch in 0..<c {
                var s = 0.0
                for i in 0..<n { for j in 0..<l { s += Double(x[(i * c + ch) * l + j]) } }
                XCTAssertEqual(sums[ch].bitPattern, s.bitPattern, "channel \(ch) of [\(n), \(c), \(l)]")
            }
        }
    }

    /// BatchNorm1d forward (batch statistics and running statistics), backward and tangent.
    func testBatchNormKeepsTheScalarLoopsBits() {
        for (n, c, l) in [(3, 36, 10), (4, 13, 3), (2, 5, 1)] {
            let x = wideValues(n * c * l, seed: 7), gamma = wideValues(c, seed: 8), beta = wideValues(c, seed: 9)
            let seed = wideValues(n * c * l, seed: 10), dirX = wideValues(n * c * l, seed: 11)
            let dirG = wideValues(c, seed: 12), dirB = wideValues(c, seed: 13)
            for training in [true, false] {
                var buffers = BatchNormBuffers(channels: c)
                buffers.runningMean = wideValues(c, seed: 14)
                buffers.runningVar = wideValues(c, seed: 15).map { abs($0) }
                let expected = referenceBatchNorm(x, gamma, beta, buffers, n: n, c: c, l: l, training: training,
                                                  seed: seed, tangents: (dirX, dirG, dirB))
                let t = Tape()
                t.tangentMode = true
                let xv = t.leaf(x, shape: [n, c, l], requiresGrad: true)
                let gv = t.leaf(gamma, shape: [c], requiresGrad: true), bv = t.leaf(beta, shape: [c], requiresGrad: true)
                t.setTangent(xv, dirX); t.setTangent(gv, dirG); t.setTangent(bv, dirB)
                let y = t.batchNorm(xv, weight: gv, bias: bv, buffers: &buffers, training: training, update: true)
                t.backward(y, seed: seed)
                let label = "[\(n), \(c), \(l)] training \(training)"
                XCTAssertEqual(t.value(y).map(\.bitPattern), expected.y.map(\.bitPattern), "output \(label)")
                XCTAssertEqual(buffers.runningMean.map(\.bitPattern), expected.buffers.runningMean.map(\.bitPattern), "running mean \(label)")
                XCTAssertEqual(buffers.runningVar.map(\.bitPattern), expected.buffers.runningVar.map(\.bitPattern), "running variance \(label)")
                XCTAssertEqual(t.grad(xv).map(\.bitPattern), expected.dx.map(\.bitPattern), "input gradient \(label)")
                XCTAssertEqual(t.grad(gv).map(\.bitPattern), expected.dgamma.map(\.bitPattern), "weight gradient \(label)")
                XCTAssertEqual(t.grad(bv).map(\.bitPattern), expected.dbeta.map(\.bitPattern), "bias gradient \(label)")
                XCTAssertEqual(t.tangent(of: y)?.map(\.bitPattern), expected.tangent.map(\.bitPattern), "tangent \(label)")
            }
        }
    }

    func testNormalisationsKeepTheScalarLoopsBits() {
        for (rows, n) in [(19, 33), (8, 16), (5, 3)] {
            let x = wideValues(rows * n, seed: 21), seed = wideValues(rows * n, seed: 22)
            for l1 in [false, true] {
                let t = Tape()
                let xv = t.leaf(x, shape: [rows, n], requiresGrad: true)
                let y = l1 ? t.l1norm(xv) : t.l2norm(xv)
                t.backward(y, seed: seed)
                var ey = x, edx = x
                let eps: Float = 1e-8
                for r in 0..<rows {
                    var s: Float = 0
                    if l1 { for c in 0..<n { s += abs(x[r * n + c]) } } else {
                        for c in 0..<n { s += x[r * n + c] * x[r * n + c] }
                        s = s.squareRoot()
                    }
                    let d = s + eps
                    for c in 0..<n { ey[r * n + c] = x[r * n + c] / d }
                    var gx: Float = 0
                    for c in 0..<n { gx += seed[r * n + c] * x[r * n + c] }
                    let k = gx / (d * d)
                    for c in 0..<n {
                        let xi = x[r * n + c]
                        let ds: Float = l1 ? (xi > 0 ? 1 : (xi < 0 ? -1 : 0)) : (s > 0 ? xi / s : 0)
                        edx[r * n + c] = seed[r * n + c] / d - k * ds
                    }
                }
                XCTAssertEqual(t.value(y).map(\.bitPattern), ey.map(\.bitPattern), "\(l1 ? "l1" : "l2") [\(rows), \(n)]")
                XCTAssertEqual(t.grad(xv).map(\.bitPattern), edx.map(\.bitPattern), "\(l1 ? "l1" : "l2") gradient [\(rows), \(n)]")
            }
        }
    }

    /// The middle-axis ops of the visual and textual self-attention, and tanh's and a mask's backward.
    func testMiddleAxisOpsKeepTheScalarLoopsBits() {
        let (n, m, k) = (3, 11, 9)
        let x = wideValues(n * m * k, seed: 31), w = wideValues(n * m, seed: 32), b = wideValues(n * k, seed: 33)
        let seedNK = wideValues(n * k, seed: 34), seedNMK = wideValues(n * m * k, seed: 35)
        let t = Tape()
        let xv = t.leaf(x, shape: [n, m, k], requiresGrad: true), wv = t.leaf(w, shape: [n, m], requiresGrad: true)
        let bv = t.leaf(b, shape: [n, k], requiresGrad: true)
        let sum = t.weightedSumMiddle(xv, wv), mean = t.meanMiddle(xv, counts: [11, 4, 7])
        let product = t.mulBroadcastMiddle(xv, bv, middle: m)
        let total = t.add(t.add(sum, mean), t.leaf(seedNK, shape: [n, k], requiresGrad: false))
        let masked = t.mask(t.tanh(product), seedNMK)
        t.backward(total, seed: seedNK)
        let dw = t.grad(wv)
        t.backward(masked, seed: seedNMK)  // clears the first backward's gradients

        var eSum = [Float](repeating: 0, count: n * k), eMean = [Float](repeating: 0, count: n * k)
        var eProduct = x
        for i in 0..<n {
            let count = [11, 4, 7][i]
            for j in 0..<m {
                for q in 0..<k {
                    eSum[i * k + q] += w[i * m + j] * x[(i * m + j) * k + q]
                    eProduct[(i * m + j) * k + q] *= b[i * k + q]
                }
            }
            for j in 0..<count { for q in 0..<k { eMean[i * k + q] += x[(i * m + j) * k + q] } }
            for q in 0..<k { eMean[i * k + q] /= Float(count) }
        }
        XCTAssertEqual(t.value(sum).map(\.bitPattern), eSum.map(\.bitPattern), "weightedSumMiddle")
        XCTAssertEqual(t.value(mean).map(\.bitPattern), eMean.map(\.bitPattern), "meanMiddle")
        XCTAssertEqual(t.value(product).map(\.bitPattern), eProduct.map(\.bitPattern), "mulBroadcastMiddle")

        // Gradients: w from the weighted sum; b from the product through tanh and the mask.
        var eDw = [Float](repeating: 0, count: n * m)
        for i in 0..<n { for j in 0..<m {
            var s: Float = 0
            for q in 0..<k { s += seedNK[i * k + q] * x[(i * m + j) * k + q] }
            eDw[i * m + j] = s
        } }
        let y = t.value(t.tanh(product))
        var dProduct = seedNMK
        for i in dProduct.indices { dProduct[i] *= seedNMK[i] }
        for i in dProduct.indices { dProduct[i] *= 1 - y[i] * y[i] }
        var eDb = [Float](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<m { for q in 0..<k { eDb[i * k + q] += dProduct[(i * m + j) * k + q] * x[(i * m + j) * k + q] } } }
        XCTAssertEqual(dw.map(\.bitPattern), eDw.map(\.bitPattern), "weightedSumMiddle weight gradient")
        XCTAssertEqual(t.grad(bv).map(\.bitPattern), eDb.map(\.bitPattern), "mulBroadcastMiddle broadcast gradient")
    }

    /// What `batchNorm` computed before its sums ran in lanes: per channel, the terms in (i, j) order.
    func referenceBatchNorm(_ xv: [Float], _ gv: [Float], _ bv: [Float], _ start: BatchNormBuffers, n: Int, c: Int, l: Int,
                            training: Bool, seed g: [Float], tangents: ([Float], [Float], [Float]))
        -> (y: [Float], buffers: BatchNormBuffers, dx: [Float], dgamma: [Float], dbeta: [Float], tangent: [Float]) {
        var buffers = start
        let m = n * l
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            if training {
                var s1 = 0.0
                for i in 0..<n { for j in 0..<l { s1 += Double(xv[(i * c + ch) * l + j]) } }
                let mu = s1 / Double(m)
                var s2 = 0.0
                for i in 0..<n { for j in 0..<l { let d = Double(xv[(i * c + ch) * l + j]) - mu; s2 += d * d } }
                let v = s2 / Double(m)
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (v + Double(buffers.eps)).squareRoot())
                let unbiased = m > 1 ? s2 / Double(m - 1) : v
                buffers.runningMean[ch] = (1 - buffers.momentum) * buffers.runningMean[ch] + buffers.momentum * Float(mu)
                buffers.runningVar[ch] = (1 - buffers.momentum) * buffers.runningVar[ch] + buffers.momentum * Float(unbiased)
            } else {
                mean[ch] = buffers.runningMean[ch]
                invStd[ch] = 1 / (buffers.runningVar[ch] + buffers.eps).squareRoot()
            }
        }
        var xhat = xv, y = xv
        for i in 0..<n { for ch in 0..<c { for j in 0..<l {
            let k = (i * c + ch) * l + j
            xhat[k] = (xv[k] - mean[ch]) * invStd[ch]
            y[k] = gv[ch] * xhat[k] + bv[ch]
        } } }
        var dgamma = [Double](repeating: 0, count: c), dbeta = [Double](repeating: 0, count: c)
        for ch in 0..<c { for i in 0..<n { for j in 0..<l {
            let k = (i * c + ch) * l + j
            dgamma[ch] += Double(g[k] * xhat[k]); dbeta[ch] += Double(g[k])
        } } }
        var dx = g
        for i in 0..<n { for ch in 0..<c { for j in 0..<l {
            let k = (i * c + ch) * l + j
            if training {
                dx[k] = gv[ch] * invStd[ch] * (g[k] - Float(dbeta[ch] / Double(m)) - xhat[k] * Float(dgamma[ch] / Double(m)))
            } else {
                dx[k] = g[k] * gv[ch] * invStd[ch]
            }
        } } }
        let (tx, tg, tb) = tangents
        var tangent = [Float](repeating: 0, count: n * c * l)
        for ch in 0..<c {
            var meanT = 0.0, meanXT = 0.0
            if training {
                for i in 0..<n { for j in 0..<l { let k = (i * c + ch) * l + j; meanT += Double(tx[k]); meanXT += Double(xhat[k] * tx[k]) } }
                meanT /= Double(n * l); meanXT /= Double(n * l)
            }
            for i in 0..<n { for j in 0..<l {
                let k = (i * c + ch) * l + j
                var v: Float = 0
                v += gv[ch] * invStd[ch] * (tx[k] - Float(meanT) - xhat[k] * Float(meanXT))
                v += tg[ch] * xhat[k]
                v += tb[ch]
                tangent[k] = v
            } }
        }
        return (y, buffers, dx, dgamma.map { Float($0) }, dbeta.map { Float($0) }, tangent)
    }
}
