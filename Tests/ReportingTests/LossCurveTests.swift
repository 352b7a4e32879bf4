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
