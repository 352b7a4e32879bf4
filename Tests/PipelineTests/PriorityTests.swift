import Foundation
import XCTest
@testable import Pipeline

/// `priority: background`: the stage's process runs under SCHED_IDLE on the local executor, its
/// key does not change, and the runner's own threads keep their policy.
final class PriorityTests: XCTestCase {
    func testParsedPerStageWithNormalAsDefault() throws {
        let file = try PipelineFile.parse(yaml: """
            name: p
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}}
              b: {command: "x ${out.f}", outputs: {f: file}, priority: background}
              c: {command: "x ${out.f}", outputs: {f: file}, priority: normal}
              d:
                foreach: {i: "1..2"}
                priority: background
                command: "x ${out.f}"
                outputs: {f: file}
            """, source: "p.yaml")
        let plan = try Plan(file: file, overrides: [])
        XCTAssertEqual(plan.stages.map(\.name), ["a", "b", "c", "d@1", "d@2"])
        XCTAssertEqual(plan.stages.map(\.background), [false, true, false, true, true])
        XCTAssertThrowsError(try PipelineFile.parse(yaml: """
            name: p
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}, priority: low}
            """, source: "p.yaml")) {
            let message = "\($0)"
            XCTAssertTrue(message.contains("p.yaml:3") && message.contains("stage 'a'") && message.contains("'normal' or 'background'"), message)
        }
    }

    /// Field 41 of /proc/<pid>/stat is the scheduling policy: 0 normal, 5 SCHED_IDLE.
    func testBackgroundStagesRunUnderSchedIdleAndKeepTheirKey() throws {
        XCTAssertEqual(sched_getscheduler(0), 0, "the test must start under the normal policy to see a difference")
        let f = Fixture("priority")
        // `cut` reads its own policy; the second one runs from a subshell the stage starts, so
        // the stage's own children inherit it too. The last word only keeps the two stages' keys
        // apart (the same command would be one cached stage).
        f.script("policy.sh", #"cut -d' ' -f41 /proc/self/stat > "$1"; (cut -d' ' -f41 /proc/self/stat >> "$1") & wait"#)
        func write(_ priority: String) {
            _ = f.pipeline("""
                name: priority
                stages:
                  side: {command: "./policy.sh ${out.txt} side", outputs: {txt: file}\(priority)}
                  main: {command: "./policy.sh ${out.txt} main", outputs: {txt: file}}
                publish: {side.txt: "${side.txt}", main.txt: "${main.txt}"}
                """)
        }
        write(", priority: background")
        XCTAssertEqual(Set(try f.run([:], RunOptions(jobs: 2)).ran), ["side", "main"])
        XCTAssertEqual(f.read("Data/runs/latest/side.txt"), "5\n5\n")
        XCTAssertEqual(f.read("Data/runs/latest/main.txt"), "0\n0\n", "a normal stage runs under the normal policy")
        XCTAssertEqual(sched_getscheduler(0), 0, "the caller's thread keeps its policy")

        write("")
        XCTAssertEqual(Set(try f.run().cached), ["side", "main"], "priority is speed only: the key does not move")
    }
}
