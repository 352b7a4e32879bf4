import Foundation
import StageKit
import TestSupport
import XCTest

/// A negative number after a long option is its value (`--lr -0.1`), so the option's own check
/// answers instead of ArgumentParser's "missing value".
final class NegativeValuesTests: XCTestCase {
    func testNumbersAfterLongOptionsAreJoined() {
        XCTAssertEqual(NegativeValues.joined(["--lr", "-0.1", "--seed", "-3", "--x", "-1e-3", "--y", "-.5"]),
                       ["--lr=-0.1", "--seed=-3", "--x=-1e-3", "--y=-.5"])
        // Options, option values that are not numbers, values already joined, short options and
        // everything after "--" stay as they are.
        XCTAssertEqual(NegativeValues.joined(["--skip-bad", "--out", "-o", "-j", "-2", "--lr=-1", "--set", "lr=-1"]),
                       ["--skip-bad", "--out", "-o", "-j", "-2", "--lr=-1", "--set", "lr=-1"])
        XCTAssertEqual(NegativeValues.joined(["--a", "-1x", "--", "--b", "-2"]), ["--a", "-1x", "--", "--b", "-2"])
        XCTAssertEqual(NegativeValues.joined(["--last"]), ["--last"])
    }

    func testStagesAnswerANegativeValueWithTheirOwnCheck() throws {
        let r = try runProduct("mscn-noise", ["--corpus", "c.tzst", "--ratio", "-0.5", "--out", "n.tzst"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--ratio -0.5 is outside [0, 1)"), r.stderr)
        let m = try runProduct("mscn", ["weights", "export", "a.tzst", "b.pth.tar", "--epoch", "-1"])
        XCTAssertEqual(m.status, 64, m.stderr)
        XCTAssertTrue(m.stderr.contains("--epoch must be 0 or more"), m.stderr)
    }
}
