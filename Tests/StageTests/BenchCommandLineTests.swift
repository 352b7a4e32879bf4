import TestSupport
import XCTest

/// `mscn-bench`'s command line: help, the list, and a name it does not know (which must fail
/// before any benchmark runs, not be skipped silently).
final class BenchCommandLineTests: XCTestCase {
    func testHelpNamesEveryBenchmarkAndTheOnRequestOnes() throws {
        let r = try runProduct("mscn-bench", ["--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["compare", "builtin", "engine", "expf"] { XCTAssertTrue(r.stdout.contains(name), "help lacks \(name): \(r.stdout)") }
        XCTAssertTrue(r.stdout.contains("MSCN_COMPARE_PHASES"), r.stdout)
    }

    func testListPrintsOneNamePerLineAndRunsNothing() throws {
        let r = try runProduct("mscn-bench", ["--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(names.contains("compare") && names.contains("tensorfile"), r.stdout)
        XCTAssertEqual(Set(names).count, names.count, "a name listed twice")
        XCTAssertFalse(r.stdout.contains("=="), "--list ran a benchmark")
    }

    func testUnknownNameFailsBeforeAnythingRuns() throws {
        let r = try runProduct("mscn-bench", ["runner-noop-250", "no-such-bench"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("'no-such-bench'"), r.stderr)
        XCTAssertFalse(r.stdout.contains("== runner-noop-250"), "ran a benchmark before rejecting the unknown name")
    }
}
