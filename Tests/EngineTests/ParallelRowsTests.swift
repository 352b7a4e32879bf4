import Foundation
import MSCNRandom
import XCTest
@testable import Engine

/// Large elementwise work runs on two threads; the values must not depend on it.
final class ParallelRowsTests: XCTestCase {
    func testSplitCoversEveryItemExactlyOnce() {
        for count in [0, 1, 5, ParallelRows.minimumWork - 1, ParallelRows.minimumWork, 3 * ParallelRows.minimumWork + 7] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            defer { hits.deallocate() }
            ParallelRows.forEach(count: count) { r in for i in r { hits[i] += 1 } }
            XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count)")
        }
    }

    func testLargeTanhAndSigmoidEqualTheScalarFunctions() {
        var g = SeededGenerator(seed: 5, stream: "parallel-rows")
        let n = 4 * ParallelRows.minimumWork + 3
        let x = (0..<n).map { _ in 12 * (g.unitFloat() - 0.5) }
        let t = Tape()
        let v = t.leaf(x, shape: [n], requiresGrad: false)
        XCTAssertEqual(t.value(t.tanh(v)), x.map { Foundation.tanh($0) })
        XCTAssertEqual(t.value(t.sigmoid(v)), x.map { 1 / (1 + Foundation.exp(-$0)) })
    }

    /// A batch large enough for the GRU's gates to be split gives the serial loop's values,
    /// forward, backward and tangent; with two threads the two directions also run at once.
    func testSplitGRUGatesEqualTheSerialLoop() {
        var g = SeededGenerator(seed: 9, stream: "parallel-gru")
        let batch = 48, w = 12, h = 128, steps = 9
        XCTAssertGreaterThanOrEqual(batch * 3 * h, ParallelRows.minimumWork, "the batch must take the split path")
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in 0.2 * (g.unitFloat() - 0.5) } }
        let weights = (0..<2).map { _ in (ih: rand(3 * h * w), hh: rand(3 * h * h), bih: rand(3 * h), bhh: rand(3 * h)) }
        let x = rand(batch * steps * w), seed = rand(batch * steps * h)
        let lengths = (0..<batch).map { 1 + $0 % steps }
        let directions = (0..<9).map { i in rand([batch * steps * w, 3 * h * w, 3 * h * h, 3 * h, 3 * h][i == 0 ? 0 : 1 + (i - 1) % 4]) }
        func run() -> (y: [Float], grads: [[Float]], tangent: [Float]) {
            let t = Tape()
            t.tangentMode = true
            let dirs = weights.map {
                GRUWeights(ih: t.leaf($0.ih, shape: [3 * h, w], requiresGrad: true), hh: t.leaf($0.hh, shape: [3 * h, h], requiresGrad: true),
                           bih: t.leaf($0.bih, shape: [3 * h], requiresGrad: true), bhh: t.leaf($0.bhh, shape: [3 * h], requiresGrad: true))
            }
            let xv = t.leaf(x, shape: [batch, steps, w], requiresGrad: true)
            for (v, d) in zip([xv] + dirs.flatMap { [$0.ih, $0.hh, $0.bih, $0.bhh] }, directions) { t.setTangent(v, d) }
            let y = t.biGRU(xv, lengths: lengths, forward: dirs[0], backward: dirs[1])
            let tangent = t.tangent(of: y) ?? []
            t.backward(y, seed: seed)
            return (t.value(y), [t.grad(xv)] + dirs.flatMap { [t.grad($0.ih), t.grad($0.hh), t.grad($0.bih), t.grad($0.bhh)] }, tangent)
        }
        let (serial, split) = serialAndSplit(run)
        XCTAssertEqual(split.y, serial.y)
        XCTAssertEqual(split.grads, serial.grads)
        XCTAssertEqual(split.tangent.count, batch * steps * h)
        XCTAssertEqual(split.tangent, serial.tangent)
        XCTAssertGreaterThan(serial.y.map { abs($0) }.max() ?? 0, 0)
    }

    /// Large linears compute dX and dW at once, and the two terms of a bilinear op's tangent
    /// (linear, bmm) at once: the values must be the one-after-the-other ones.
    func testLinearBackwardAndBilinearTangentsEqualTheSerialOrder() {
        var g = SeededGenerator(seed: 13, stream: "parallel-linear")
        let rows = 96, inF = 80, outF = 72, n = 20, p = 40, q = 48, r = 44
        XCTAssertGreaterThanOrEqual(rows * inF * outF, ParallelRows.minimumProductWork, "the linear must take the split path")
        XCTAssertGreaterThanOrEqual(n * p * q + n * q * r, ParallelRows.vectorMinimumWork, "the bmm must take the split path")
        func rand(_ count: Int) -> [Float] { (0..<count).map { _ in g.unitFloat() - 0.5 } }
        let x = rand(rows * inF), w = rand(outF * inF), b = rand(outF), tx = rand(rows * inF), tw = rand(outF * inF), tb = rand(outF)
        let a3 = rand(n * p * q), b3 = rand(n * q * r), ta3 = rand(n * p * q), tb3 = rand(n * q * r)
        let seedY = rand(rows * outF), seedZ = rand(n * p * r)
        func run() -> [[Float]] {
            let t = Tape(), u = Tape()
            t.tangentMode = true
            u.tangentMode = true
            let xv = t.leaf(x, shape: [rows, inF], requiresGrad: true), wv = t.leaf(w, shape: [outF, inF], requiresGrad: true)
            let bv = t.leaf(b, shape: [outF], requiresGrad: true)
            let av = u.leaf(a3, shape: [n, p, q], requiresGrad: true), cv = u.leaf(b3, shape: [n, q, r], requiresGrad: true)
            for (v, d) in [(xv, tx), (wv, tw), (bv, tb)] { t.setTangent(v, d) }
            for (v, d) in [(av, ta3), (cv, tb3)] { u.setTangent(v, d) }
            let y = t.linear(xv, wv, bv), z = u.bmm(av, cv)
            let tangents = [t.tangent(of: y) ?? [], u.tangent(of: z) ?? []]
            t.backward(y, seed: seedY)
            u.backward(z, seed: seedZ)
            return tangents + [t.grad(xv), t.grad(wv), t.grad(bv), u.grad(av), u.grad(cv)]
        }
        let (serial, split) = serialAndSplit(run)
        XCTAssertEqual(serial[0].count, rows * outF)
        XCTAssertEqual(serial[1].count, n * p * r)
        XCTAssertEqual(split, serial)
        XCTAssertGreaterThan(serial[3].map { abs($0) }.max() ?? 0, 0)
    }

    /// `run()` with one thread, then with two (ParallelRows' setting restored after).
    private func serialAndSplit<T>(_ run: () -> T) -> (serial: T, split: T) {
        (ParallelRows.withThreads(1, run), ParallelRows.withThreads(2, run))
    }
}
