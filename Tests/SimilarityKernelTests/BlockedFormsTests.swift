import XCTest
@testable import SimilarityKernels
import VectorLibm

/// The two-row edge kernels must give the one-row kernels' bits exactly (the forward, backward
/// and every cached artefact depend on it), at the widths the kernels use and at odd widths and
/// table sizes that exercise every tail.
final class EdgeProductsTests: XCTestCase {
    let widths = [1, 5, 8, 13, 31, 32, 37, 64, 72, 256, 259]
    let counts = [0, 1, 2, 3, 4, 5, 7, 8, 9, 19]

    /// Values spanning several binades and both signs, so a changed summation order changes bits.
    private func sample(_ n: Int, _ state: inout UInt64) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        for i in 0..<n {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let mantissa = Float(state >> 40) / Float(1 << 24) - 0.5
            let exponent = Int((state >> 20) & 15) - 8
            p[i] = mantissa * Float(sign: .plus, exponent: exponent, significand: 1)
        }
        return p
    }

    private func table(_ count: Int, _ n: Int, _ state: inout UInt64) -> UnsafeMutablePointer<UnsafeMutablePointer<Float>> {
        let t = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: max(count, 1))
        for b in 0..<count { t[b] = sample(n, &state) }
        return t
    }

    private func bits(_ p: UnsafePointer<Float>, _ n: Int) -> [UInt32] { (0..<n).map { p[$0].bitPattern } }

    func testDotRows2MatchesTwoDotRowsCalls() {
        var state: UInt64 = 7
        var compared = 0
        for n in widths {
            for count in counts {
                let x0 = sample(n, &state), x1 = sample(n, &state), rows = table(count, n, &state)
                let one0 = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                let one1 = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                let two0 = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                let two1 = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                unsafeDotRows(x0, rows, count, one0, n)
                unsafeDotRows(x1, rows, count, one1, n)
                unsafeDotRows2(x0, x1, rows, count, two0, two1, n)
                XCTAssertEqual(bits(two0, count), bits(one0, count), "n \(n) count \(count), first row")
                XCTAssertEqual(bits(two1, count), bits(one1, count), "n \(n) count \(count), second row")
                compared += 2 * count
            }
        }
        XCTAssertGreaterThan(compared, 1000)
    }

    func testCombineRows2MatchesTwoCombineRowsCalls() {
        var state: UInt64 = 11
        for n in widths {
            for count in counts {
                let c0 = sample(count, &state), c1 = sample(count, &state), rows = table(count, n, &state)
                let start0 = sample(n, &state), start1 = sample(n, &state)
                let one0 = UnsafeMutablePointer<Float>.allocate(capacity: n), one1 = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let two0 = UnsafeMutablePointer<Float>.allocate(capacity: n), two1 = UnsafeMutablePointer<Float>.allocate(capacity: n)
                for p in [one0, two0] { p.update(from: start0, count: n) }
                for p in [one1, two1] { p.update(from: start1, count: n) }
                unsafeCombineRows(c0, rows, count, into: one0, n)
                unsafeCombineRows(c1, rows, count, into: one1, n)
                unsafeCombineRows2(c0, c1, rows, count, into: two0, two1, n)
                XCTAssertEqual(bits(two0, n), bits(one0, n), "n \(n) count \(count), first row")
                XCTAssertEqual(bits(two1, n), bits(one1, n), "n \(n) count \(count), second row")
                if count > 0 { XCTAssertNotEqual(bits(two0, n), bits(start0, n), "n \(n) count \(count): nothing added") }
            }
        }
    }

    /// The check above would pass if both forms changed together; pin the one-row form to plain
    /// scalar arithmetic in the documented order (lanes of eight, then the tail).
    func testOneRowFormsFollowTheDocumentedOrder() {
        var state: UInt64 = 3
        for n in widths {
            let x = sample(n, &state), rows = table(5, n, &state), coef = sample(5, &state), y0 = sample(n, &state)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 5)
            unsafeDotRows(x, rows, 5, out, n)
            let n8 = n & ~7
            for b in 0..<5 {
                var lanes = [Float](repeating: 0, count: 8)
                for i in 0..<n8 { lanes[i % 8] += x[i] * rows[b][i] }
                var s: Float = -0.0
                for l in lanes { s += l }
                for i in n8..<n { s += x[i] * rows[b][i] }
                XCTAssertEqual(out[b].bitPattern, s.bitPattern, "dot n \(n) row \(b)")
            }
            let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            y.update(from: y0, count: n)
            unsafeCombineRows(coef, rows, 5, into: y, n)
            for i in 0..<n {
                var expected = y0[i]
                if i < n8 {
                    for b in 0..<5 { expected += coef[b] * rows[b][i] }
                } else {
                    expected += coef[0] * rows[0][i] + coef[1] * rows[1][i] + coef[2] * rows[2][i] + coef[3] * rows[3][i]
                    expected += coef[4] * rows[4][i]
                }
                XCTAssertEqual(y[i].bitPattern, expected.bitPattern, "combine n \(n) element \(i)")
            }
        }
    }
}

/// The four-region attention logits against the one-region loop, bit for bit, for region counts
/// with and without a remainder and for a caption that starts inside the gram's columns.
final class AttentionLogitsTests: XCTestCase {
    func testFourRegionPathEqualsOneRegionLoop() {
        var state: UInt64 = 5
        for R in [1, 3, 4, 7, 36] {
            let W = 23, lw = 6, L = 13
            let gram = UnsafeMutablePointer<Float>.allocate(capacity: R * W)
            for i in 0..<(R * W) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                gram[i] = (Float(state >> 40) / Float(1 << 24) - 0.45) * Float(1 + (state >> 12) % 7)
            }
            if R > 2 { for l in 0..<L { gram[2 * W + lw + l] = -abs(gram[2 * W + lw + l]) } }  // an all-negative region
            let norms = UnsafeMutablePointer<Float>.allocate(capacity: R)
            let logits = UnsafeMutablePointer<Float>.allocate(capacity: W * R)
            logits.initialize(repeating: .nan, count: W * R)
            attentionLogits(gram: gram, stride: W, firstWord: lw, words: L, regions: R, norms: norms, logits: logits)
            for r in 0..<R {
                var ss: Float = 0
                for l in 0..<L { let a = leakyReLU(gram[r * W + lw + l]); ss += a * a }
                let n = ss.squareRoot()
                XCTAssertEqual(norms[r].bitPattern, n.bitPattern, "R \(R) norm \(r)")
                let scale = attentionSmooth / (n + normEps)
                for l in 0..<L {
                    let expected = leakyReLU(gram[r * W + lw + l]) * scale
                    XCTAssertEqual(logits[(lw + l) * R + r].bitPattern, expected.bitPattern, "R \(R) region \(r) word \(l)")
                }
            }
            XCTAssertTrue(logits[0].isNaN, "words before the caption are left alone")
        }
    }
}

/// Softmaxes of contiguous rows with one exponential call against one softmax per row, bit for
/// bit (row counts odd and even, lengths around the exp kernel's four-lane blocks, large and
/// tied values).
final class SoftmaxRowsTests: XCTestCase {
    /// The softmax of one row, written out: max-subtracted, summed in order.
    private func softmaxOneRow(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n where x[i] > m { m = x[i] }
        var s: Float = 0
        for i in 0..<n { x[i] -= m }
        ExpF.apply(x, x, n)
        for i in 0..<n { s += x[i] }
        let inv = 1 / s
        for i in 0..<n { x[i] *= inv }
    }

    func testRowsEqualOneSoftmaxPerRow() {
        var state: UInt64 = 9
        for n in [1, 2, 3, 4, 5, 9, 19, 28, 36] {
            for rows in 1...5 {
                let x = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
                defer { x.deallocate() }
                for i in 0..<(rows * n) {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    x[i] = i % 3 == 0 && (i / n) % 2 == 1 ? 7 : (Float(state >> 40) / Float(1 << 24) - 0.5) * 40
                }
                var perRow = Array(UnsafeBufferPointer(start: x, count: rows * n))
                perRow.withUnsafeMutableBufferPointer { p in
                    guard let base = p.baseAddress else { return }
                    for r in 0..<rows { softmaxOneRow(base + r * n, n) }
                }
                unsafeSoftmaxRows(x, rows: rows, n)
                XCTAssertEqual((0..<(rows * n)).map { x[$0].bitPattern }, perRow.map(\.bitPattern), "n \(n), \(rows) rows")
                XCTAssertEqual(perRow[0..<n].reduce(0, +), 1, accuracy: 1e-5)
            }
        }
    }
}

extension AttentionLogitsTests {
    /// The backward, factored out of the alignment backward, against its definition written out.
    func testBackwardFollowsItsDefinition() {
        var state: UInt64 = 13
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.45) * Float(1 + (state >> 12) % 7)
        }
        for R in [1, 4, 6, 36] {
            let W = 21, lw = 4, L = 11
            let gram = UnsafeMutablePointer<Float>.allocate(capacity: R * W)
            let dGram = UnsafeMutablePointer<Float>.allocate(capacity: R * W)
            for i in 0..<(R * W) { gram[i] = next(); dGram[i] = next() }
            let norms = UnsafeMutablePointer<Float>.allocate(capacity: R)
            for r in 0..<R { norms[r] = r == 1 ? 0 : abs(next()) + 0.5 }  // a zero norm takes the other branch
            var expected = Array(UnsafeBufferPointer(start: dGram, count: R * W))
            for r in 0..<R {
                let inv = 1 / (norms[r] + normEps)
                var yd: Float = 0
                for l in 0..<L { yd += leakyReLU(gram[r * W + lw + l]) * inv * expected[r * W + lw + l] }
                let coef = norms[r] > 0 ? yd / norms[r] : 0
                for l in 0..<L {
                    let k = r * W + lw + l
                    let y = leakyReLU(gram[k]) * inv
                    let da = expected[k] * inv - y * coef
                    expected[k] = gram[k] > 0 ? da : 0.1 * da
                }
            }
            attentionLogitsBackward(gram: gram, gradient: dGram, stride: W, firstWord: lw, words: L, regions: R, norms: norms)
            XCTAssertEqual((0..<(R * W)).map { dGram[$0].bitPattern }, expected.map(\.bitPattern), "R \(R)")
        }
    }
}
