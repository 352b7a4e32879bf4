import Foundation
import TestSupport
import XCTest

/// `mscn-bench`'s command line: help, the list, a name it does not know (which must fail before
/// any benchmark runs, not be skipped silently), and `compare` with an official side that cannot
/// run or dies.
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

    /// An executable `python` in `dir` running `body` under /bin/sh.
    func shellPython(_ body: String, in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("python").path
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// A stand-in for the official side's Python: `-c` (the import check) answers `check`;
    /// run as the driver it writes a line to stderr and exits 3.
    func fakePython(check: Int32, in dir: URL) throws -> String {
        try shellPython("""
        if [ "$1" = "-c" ]; then echo "ModuleNotFoundError: No module named 'torch'" >&2; exit \(check); fi
        echo "fake official code: crashed on purpose" >&2
        exit 3
        """, in: dir)
    }

    /// A stand-in for the official side that passes the import check and answers every command
    /// as done in `seconds`.
    func steadyPython(seconds: String, in dir: URL) throws -> String {
        try shellPython("""
        if [ "$1" = "-c" ]; then exit 0; fi
        while read -r command; do
          [ "$command" = quit ] && exit 0
          echo "ok \(seconds)"
        done
        """, in: dir)
    }

    /// A folder with the official code's file names (empty: the fake Python never reads them).
    func fakeReference(in dir: URL) throws -> String {
        let ref = dir.appendingPathComponent("ref")
        try FileManager.default.createDirectory(at: ref, withIntermediateDirectories: true)
        for f in ["main_MSCN.py", "models.py", "evaluation_meta.py", "opt.py", "data.py"] {
            try Data().write(to: ref.appendingPathComponent(f))
        }
        return ref.path
    }

    func testCompareChecksTheOfficialSideBeforeMeasuring() throws {
        let dir = TestPaths.temporaryDirectory("bench-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ref = try fakeReference(in: dir)
        let noTorch = try runProduct("mscn-bench", ["compare"], environment: [
            "MSCN_REF_PY": try fakePython(check: 1, in: dir), "MSCN_REF": ref, "MSCN_COMPARE": "builtin"])
        XCTAssertNotEqual(noTorch.status, 0)
        XCTAssertTrue(noTorch.stderr.contains("cannot import torch") && noTorch.stderr.contains("No module named 'torch'"), noTorch.stderr)
        XCTAssertFalse(noTorch.stdout.contains("builtin:"), "measured before refusing: \(noTorch.stdout)")

        let missing = try runProduct("mscn-bench", ["compare"], environment: [
            "MSCN_REF_PY": "/bin/sh", "MSCN_REF": dir.appendingPathComponent("nowhere").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("lacks main_MSCN.py"), missing.stderr)

        let notExecutable = try runProduct("mscn-bench", ["compare"], environment: ["MSCN_REF_PY": dir.appendingPathComponent("none").path])
        XCTAssertNotEqual(notExecutable.status, 0)
        XCTAssertTrue(notExecutable.stderr.contains("is not an executable file"), notExecutable.stderr)
    }

    /// The official process dying mid-run (it used to end `mscn-bench` by SIGPIPE with no output,
    /// or leave an empty table and exit 0): our side is still measured and printed, the run fails
    /// and says why, with the end of the official log.
    func testCompareFailsAndSaysWhyWhenTheOfficialProcessDies() throws {
        let dir = TestPaths.temporaryDirectory("bench-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runProduct("mscn-bench", ["compare"], environment: [
            "MSCN_REF_PY": try fakePython(check: 0, in: dir), "MSCN_REF": try fakeReference(in: dir),
            "MSCN_COMPARE": "builtin", "MSCN_COMPARE_PHASES": "warmup,train", "MSCN_COMPARE_STEPS": "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("official code exited") && r.stderr.contains("crashed on purpose"), r.stderr)
        XCTAssertTrue(r.stderr.contains("official code not running"), "the second phase should not try again: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("| builtin | warm-up step |") && r.stdout.contains("| failed |"), r.stdout)
    }

    /// Each phase's row carries the range of the step-by-step ratios, and the ratio of the
    /// medians lies inside it (both sides' times here: ours measured, the official side's 0.5 s).
    func testCompareReportsTheStepByStepRatiosBesideTheMedians() throws {
        let dir = TestPaths.temporaryDirectory("bench-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runProduct("mscn-bench", ["compare"], environment: [
            "MSCN_REF_PY": try steadyPython(seconds: "0.5", in: dir), "MSCN_REF": try fakeReference(in: dir),
            "MSCN_COMPARE": "builtin", "MSCN_COMPARE_PHASES": "warmup", "MSCN_COMPARE_STEPS": "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| official/ours | step by step (min–max) |"), r.stdout)
        let row = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("| builtin | warm-up step |") }, r.stdout)
        let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(cells[3], "0.500", row.description)
        let median = try XCTUnwrap(Double(cells[4].dropLast()), row.description)
        let bounds = cells[5].dropLast().split(separator: "–").compactMap { Double($0) }
        XCTAssertEqual(bounds.count, 2, row.description)
        XCTAssertTrue(bounds[0] <= median + 0.005 && median <= bounds[1] + 0.005, "median \(median) outside \(bounds)")
        XCTAssertGreaterThan(bounds[0], 0, row.description)
    }
}
