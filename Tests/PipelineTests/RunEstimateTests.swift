import XCTest
@testable import Pipeline

/// The run's progress after each stage: stages settled of the run's, time so far, time left.
final class RunEstimateTests: XCTestCase {
    /// a → b → c, d beside them, rounds r@1 → r@2 → r@3 after c.
    private func plan() throws -> Plan {
        try Plan(file: try PipelineFile.parse(yaml: """
            name: est
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}}
              b: {command: "x ${a.f} ${out.f}", outputs: {f: file}}
              c:
                command: "x ${b.f} ${out.f}"
                outputs: {f: file}
              d: {command: "x ${out.f}", outputs: {f: file}}
              r:
                foreach: {round: "1..3"}
                command: "x ${round == 1 ? c.f : r@${round-1}.f} ${out.f}"
                outputs: {f: file}
            """, source: "est.yaml"), overrides: [])
    }

    func testLongestChainOrWorkOverSlotsWhicheverIsLonger() throws {
        let p = try plan()
        let times = ["a": 10.0, "b": 20, "c": 5, "d": 30, "r@1": 1, "r@2": 1, "r@3": 1]
        let e = RunEstimate(plan: p, order: Array(p.stages.indices), jobs: 2) { times[$0] }
        let now = Date()
        // Chain a-b-c-r: 38 s; all work 68 s over two slots: 34 s.
        XCTAssertEqual(e.left(settled: [], running: [:], now: now), .init(seconds: 38, chain: 38))
        // a done, d running for 25 of its 30 s: chain 28 s, work (20+5+5+3)/2 = 16.5 s.
        XCTAssertEqual(e.left(settled: ["a"], running: ["d": now.addingTimeInterval(-25)], now: now),
                       .init(seconds: 28, chain: 28))
        // One slot: the work, 68 s, is longer than the chain.
        let serial = RunEstimate(plan: p, order: Array(p.stages.indices), jobs: 1) { times[$0] }
        XCTAssertEqual(serial.left(settled: [], running: [:], now: now).seconds, 68)
        // A running stage past its guess has nothing left, not less than nothing.
        XCTAssertEqual(e.left(settled: ["a", "b", "c", "r@1", "r@2", "r@3"], running: ["d": now.addingTimeInterval(-99)], now: now),
                       .init(seconds: 0))
    }

    /// With no record, a round's guess is its family's finished rounds; until then the estimate
    /// is a lower bound.
    func testUnknownStagesMakeALowerBoundUntilTheirFamilyHasRun() throws {
        let p = try plan()
        let times = ["a": 10.0, "b": 20, "c": 5, "d": 30]
        var e = RunEstimate(plan: p, order: Array(p.stages.indices), jobs: 2) { times[$0] }
        let done: Set<String> = ["a", "b", "c", "d"]
        XCTAssertEqual(e.left(settled: done, running: [:], now: Date()), .init(seconds: 0, untimed: 3))
        XCTAssertTrue(e.left(settled: done, running: [:], now: Date()).lowerBound)
        let r1 = try XCTUnwrap(p.stages.first { $0.name == "r@1" })
        e.finished(r1, seconds: 12)
        XCTAssertEqual(e.left(settled: done.union(["r@1"]), running: [:], now: Date()), .init(seconds: 24, chain: 24))
    }

    func testProgressText() {
        XCTAssertEqual(RunEstimate.progress(settled: 17, total: 73, elapsed: 245, left: .init(seconds: 1290)),
                       " · 17/73 stages, 4m05s, about 21m30s left")
        XCTAssertEqual(RunEstimate.progress(settled: 2, total: 9, elapsed: 5, left: .init(seconds: 40, untimed: 4)),
                       " · 2/9 stages, 5s, at least 40s left (4 stages not timed yet)")
        XCTAssertEqual(RunEstimate.progress(settled: 8, total: 9, elapsed: 5, left: .init(seconds: 0, untimed: 1)),
                       " · 8/9 stages, 5s, at least 0s left (1 stage not timed yet)")
        XCTAssertEqual(RunEstimate.progress(settled: 9, total: 9, elapsed: 3700, left: .init(seconds: 0)),
                       " · 9/9 stages, 1h01m")
        XCTAssertEqual(RunEstimate.progress(settled: 3, total: 9, elapsed: 5, left: nil), " · 3/9 stages, 5s")
    }
}
