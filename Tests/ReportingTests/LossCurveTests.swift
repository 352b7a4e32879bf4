@testable import Reporting
import XCTest

final class LossCurveTests: XCTestCase {
    func log(_ n: Int, start: Double, meta: Bool) -> TrainingLog {
        var l = TrainingLog()
        for i in 0..<n {
            l.step.append(i); l.epoch.append(0); l.lr.append(0.1)
            l.loss.append(start + Double(i))
            l.metaLoss.append(meta ? 0.5 * Double(i) : nil)
        }
        return l
    }

    func testLongLogsAreAveragedInBinsThatStayInsideOneStage() {
        let c = LossCurve([log(500, start: 0, meta: false), log(500, start: 1000, meta: true)], maxPoints: 400)
        // 1000 steps, at most 400 points: bins of 3 steps; 167 bins per stage plus one gap.
        XCTAssertEqual(c.loss.count, 167 * 2 + 1)
        XCTAssertEqual(c.starts, [1, 501])
        XCTAssertEqual(c.loss[0].x, 2)
        XCTAssertEqual(c.loss[0].y, 1)                     // mean of 0, 1, 2
        XCTAssertEqual(c.loss[166].y, 498.5)               // the last bin holds steps 498 and 499
        XCTAssertNil(c.loss[167].y)                        // gap between stages
        XCTAssertEqual(c.loss[168].x, 502)
        XCTAssertEqual(c.loss[168].y, 1001)
        XCTAssertTrue(c.metaLoss[0...166].allSatisfy { $0.y == nil })
        XCTAssertEqual(c.metaLoss[168].y, 0.5)             // mean of 0, 0.5, 1
    }
}

final class HistogramRangeTests: XCTestCase {
    func testScoresCrowdedNearOneValueAreShownZoomedWithTheSameDensityScale() {
        func check(_ scores: [Float], _ lo: Double, _ hi: Double, line: UInt = #line) {
            let r = ScoreHistogram.range(scores)
            XCTAssertEqual(r.lo, lo, accuracy: 1e-9, line: line)
            XCTAssertEqual(r.hi, hi, accuracy: 1e-9, line: line)
        }
        check([0.01, 0.99], 0, 1)
        check([0.2, 0.6], 0.2, 0.6)
        check([0.2, 0.8], 0, 1)                 // more than half: the whole range
        check([0.4967, 0.4982], 0.4965, 0.4985)  // steps of 0.0005
        check([0.5, 0.5, 0.5], 0.49, 0.51)
        check([1, 1], 0.99, 1)
        // Density: each score adds 1 / (M · binWidth), so the bars integrate to 1 whatever the range.
        let scores: [Float] = [0.48, 0.49, 0.5, 0.51, 0.52, 0.5]
        let r = ScoreHistogram.range(scores)
        let d = ScoreHistogram.densities(scores, select: { _ in true }, total: scores.count, range: r)
        XCTAssertEqual(d.reduce(0, +) * (r.hi - r.lo) / Double(ScoreHistogram.bins), 1, accuracy: 1e-12)
    }
}
