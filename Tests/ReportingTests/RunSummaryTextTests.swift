import Foundation
import Reporting
import XCTest

/// `mscn report --summary`: the run in a few lines, each figure the one in the files it read.
final class RunSummaryTextTests: XCTestCase {
    private func regimeFiles(_ run: FakeRun) throws -> [String] {
        let a = run.path("regime-a.json"), b = run.path("regime-b.json")
        try Data(#"{"net":"A","auc":0.9123,"captions":200,"clean_captions":134}"#.utf8).write(to: URL(fileURLWithPath: a))
        try Data(#"{"net":"B","auc":0.8766,"captions":200,"clean_captions":134}"#.utf8).write(to: URL(fileURLWithPath: b))
        return [a, b]
    }

    func testLinesCarryTheFilesFigures() throws {
        var run = try FakeRun()
        run.inputs.regime = try regimeFiles(run)
        let lines = try RunSummaryText.render(run.inputs).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6, lines.joined(separator: "\n"))
        XCTAssertEqual(lines[0], "noise 0.5, seed 0")
        XCTAssertTrue(lines[1].hasPrefix("warm-up: clean-vs-noisy AUC A 0.912, B 0.877 "), lines[1])
        for (line, net) in [(lines[2], "A"), (lines[3], "B")] {
            let first = try XCTUnwrap(run.purify[net]?.first), last = try XCTUnwrap(run.purify[net]?.last)
            XCTAssertTrue(line.hasPrefix("purification by net \(net) (\(first.cleanCaptions ?? -1) of 200 captions clean): "), line)
            XCTAssertTrue(line.contains("round 1 kept \(first.kept), precision \(String(format: "%.3f", first.precision ?? -1))"), line)
            XCTAssertTrue(line.contains("; round 3 kept \(last.kept), precision \(String(format: "%.3f", last.precision ?? -1)) recall \(String(format: "%.3f", last.recall ?? -1))"), line)
        }
        XCTAssertEqual(lines[4], "dev rSum, rounds 1–3: " + run.dev.map { String(format: "%.1f", $0.rsum) }.joined(separator: " ") + " (best: round 2)")
        XCTAssertEqual(lines[5], "test rSum \(String(format: "%.2f", run.test.rsum)) (i2t R@1 42.5, t2i R@1 37.5) with round 2's nets")
    }

    /// Only what was given is said; nothing at all is an error, not an empty summary.
    func testOnlyGivenPartsAndNothingIsAnError() throws {
        let run = try FakeRun()
        var testOnly = RunReportInputs()
        testOnly.testMetrics = run.inputs.testMetrics
        XCTAssertEqual(try RunSummaryText.render(testOnly), "test rSum \(String(format: "%.2f", run.test.rsum)) (i2t R@1 42.5, t2i R@1 37.5)\n")
        XCTAssertThrowsError(try RunSummaryText.render(RunReportInputs())) { XCTAssertTrue("\($0)".contains("nothing to summarise"), "\($0)") }
        var missing = RunReportInputs()
        missing.best = run.path("no-such-best.json")
        XCTAssertThrowsError(try RunSummaryText.render(missing)) { XCTAssertTrue("\($0)".contains("no-such-best.json"), "\($0)") }
    }

    /// A run folder gives the regime check of the last warm-up epoch, net A first.
    func testRunFolderGivesTheLastWarmupEpochsRegimeCheck() throws {
        let run = try FakeRun()
        let files = try regimeFiles(run)
        let folder = run.dir.appendingPathComponent("runs/regime").path
        for (stage, target) in [("regime_b@10", files[1]), ("regime_a@9", files[1]), ("regime_a@10", files[0])] {
            try FileManager.default.createDirectory(atPath: folder + "/" + stage, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + stage + "/regime", withDestinationPath: target)
        }
        var filled = RunReportInputs()
        try filled.fill(fromRunFolder: folder)
        XCTAssertEqual(filled.regime, [folder + "/regime_a@10/regime", folder + "/regime_b@10/regime"])
    }
}
