import Foundation
import XCTest
@testable import Pipeline

/// The executor seam without a cluster: resources in pipeline files, the batch script and
/// sbatch arguments, SLURM's answers, retries, and concurrent runs sharing one cache.
final class ExecutorTests: XCTestCase {
    func testResourcesDefaultAtTopAndPerStageOverride() throws {
        let file = try PipelineFile.parse(yaml: """
            name: r
            resources: {cpus: 1, mem: 2g, time: "30:00"}
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}}
              b:
                command: "x ${out.f} ${a.f}"
                outputs: {f: file}
                resources: {cpus: 4, time: "1-02:00:00"}
            """, source: "r.yaml")
        let plan = try Plan(file: file, overrides: [])
        XCTAssertEqual(plan.stages[plan.index["a"]!].resources, StageResources(cpus: 1, mem: "2G", time: "30:00"))
        XCTAssertEqual(plan.stages[plan.index["b"]!].resources, StageResources(cpus: 4, mem: "2G", time: "1-02:00:00"))
    }

    func testBadResourcesNameTheFileLineAndField() {
        for (yaml, needle) in [
            ("resources: {cpus: 0}", "cpus"), ("resources: {mem: lots}", "mem"),
            ("resources: {time: '2h'}", "time"), ("resources: {gpus: 1}", "unknown resource 'gpus'"),
        ] {
            XCTAssertThrowsError(try PipelineFile.parse(yaml: """
                name: r
                stages:
                  a:
                    command: x
                    \(yaml)
                """, source: "bad.yaml")) { e in
                XCTAssertTrue("\(e)".hasPrefix("bad.yaml:") && "\(e)".contains(needle), "\(e)")
            }
        }
    }

    func testResourcesAreNotPartOfTheKey() throws {
        let f = Fixture("res-key")
        f.script("w.sh", #"echo w > "$1""#)
        _ = f.pipeline("name: k\nstages:\n  a: {command: \"./w.sh ${out.f}\", outputs: {f: file}}\n")
        XCTAssertEqual(try f.run().ran, ["a"])
        _ = f.pipeline("name: k\nresources: {cpus: 2}\nstages:\n  a: {command: \"./w.sh ${out.f}\", outputs: {f: file}, resources: {time: '5'}}\n")
        XCTAssertEqual(try f.run().cached, ["a"])
    }

    func launch(_ args: [String], stdout: String? = nil) -> StageLaunch {
        StageLaunch(stage: "train_b@2", executable: "/opt/bin/mscn-train", arguments: args, staging: "/cluster/cache/tmp/1-x",
                    logPath: "/cluster/cache/logs/t.log", stdoutPath: stdout, echo: nil,
                    resources: StageResources(cpus: 2, mem: "8G", time: nil), workingDirectory: "/home/u/proj")
    }

    func testBatchScriptQuotesEveryWordAndChecksTheSharedCache() throws {
        let script = SlurmJob.script(launch(["mscn-train", "--note", "it's $HOME; `x` \"y\"", "--out", "/cluster/cache/tmp/1-x/ckpt"],
                                            stdout: "/cluster/cache/logs/t.log.stdout"),
                                     cacheRoot: "/cluster/cache", cacheIdentity: "ID-1")
        XCTAssertTrue(script.hasPrefix("#!/bin/sh\n"))
        XCTAssertTrue(script.contains("'/cluster/cache/.mscn-cache-id'") && script.contains("!= 'ID-1'"), script)
        XCTAssertTrue(script.contains("exit 97"))
        XCTAssertTrue(script.contains(#"exec '/opt/bin/mscn-train' '--note' 'it'\''s $HOME; `x` "y"' '--out' '/cluster/cache/tmp/1-x/ckpt' > '/cluster/cache/logs/t.log.stdout'"#), script)
        // The shell gives back exactly the words.
        let dir = NSTemporaryDirectory() + "quote-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let words = ["a b", "it's", "$HOME", "`id`", "\"q\"", "back\\slash", ""]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "printf '%s\\n' " + words.map(SlurmJob.quote).joined(separator: " ") + " > " + SlurmJob.quote(dir + "/out")]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(try String(contentsOfFile: dir + "/out", encoding: .utf8), words.map { $0 + "\n" }.joined())
    }

    func testSbatchArgumentsCarryResourcesAndRunOptions() {
        let settings = SlurmSettings(partition: "cpu", account: "lab", time: "4:00:00", extra: ["--qos=short"])
        let a = SlurmJob.sbatchArguments(launch(["x"]), script: "/s.sbatch", settings: settings)
        XCTAssertEqual(a, ["--parsable", "--job-name=mscn-train_b@2", "--output=/cluster/cache/logs/t.log", "--chdir=/home/u/proj",
                           "--no-requeue", "--export=ALL", "--ntasks=1", "--cpus-per-task=2", "--mem=8G", "--time=4:00:00",
                           "--partition=cpu", "--account=lab", "--qos=short", "/s.sbatch"])
        var l = launch(["x"])
        l.resources.time = "30"
        XCTAssertTrue(SlurmJob.sbatchArguments(l, script: "/s", settings: settings).contains("--time=30"), "the file's time wins")
        XCTAssertThrowsError(try SlurmSettings.splitExtra("--qos=short oops"))
        XCTAssertEqual(try SlurmSettings.splitExtra("--qos=short '--comment=a b'"), ["--qos=short", "--comment=a b"])
    }

    func testParsesWhatSlurmSaysAboutAJob() {
        let line = "JobId=42 JobName=mscn-a UserId=u(1) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) ExitCode=0:15 "
            + "RunTime=00:01:02 StartTime=2026-11-29T10:00:00 EndTime=2026-11-29T10:01:02 NodeList=n7 BatchHost=n7"
        let s = SlurmJob.parseScontrol(line)
        XCTAssertEqual(s, SlurmJob.Status(state: "TIMEOUT", exit: .signal(15), node: "n7", start: "2026-11-29T10:00:00",
                                          end: "2026-11-29T10:01:02", reason: "TimeLimit"))
        XCTAssertEqual(s?.isFinal, true)
        XCTAssertEqual(SlurmJob.parseScontrol("JobId=1 JobState=COMPLETING ExitCode=0:0")?.isFinal, false)
        XCTAssertEqual(SlurmJob.parseScontrol("JobId=1 JobState=RUNNING NodeList=(null)")?.node, nil)
        XCTAssertNil(SlurmJob.parseScontrol("slurm_load_jobs error: Invalid job id specified"))
        XCTAssertEqual(SlurmJob.parseSacct("CANCELLED by 1000|0:15|n3|2026-11-29T10:00:00|2026-11-29T10:00:09\n")?.state, "CANCELLED")
        XCTAssertEqual(SlurmJob.parseSacct("FAILED|3:0|n3|2026-11-29T10:00:00|2026-11-29T10:00:09")?.exit, .code(3))
        XCTAssertNil(SlurmJob.parseSacct("\n"))
    }

    func testEndsSayWhatHappened() {
        XCTAssertTrue(StageEnd(exit: .code(0), state: "COMPLETED", job: "7").succeeded)
        XCTAssertFalse(StageEnd(exit: .code(0), state: "CANCELLED", job: "7").succeeded)
        XCTAssertEqual(StageEnd(exit: .signal(15), state: "TIMEOUT", job: "7").description, "SLURM job 7: TIMEOUT")
        XCTAssertEqual(StageEnd(exit: .code(2), state: "FAILED", job: "7").description, "SLURM job 7: FAILED, exit status 2")
        XCTAssertEqual(StageEnd(exit: .code(2)).description, "exit status 2")
        XCTAssertTrue(StageEnd(exit: nil, state: "NODE_FAIL", job: "7").clusterFault)
        XCTAssertFalse(StageEnd(exit: .code(1), state: "FAILED", job: "7").clusterFault)
    }

    /// A cluster tool that exists but cannot be executed (a text file marked executable, as a
    /// broken wrapper script without its `#!` line is) is named with the system's reason.
    func testAClusterToolThatCannotStartIsNamedWithTheSystemsReason() throws {
        let dir = NSTemporaryDirectory() + "cluster-tool-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tool = dir + "/sbatch"
        try Data("not a program\n".utf8).write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
        XCTAssertThrowsError(try ClusterTool.run(tool, ["--version"], timeout: 10)) { e in
            XCTAssertTrue("\(e)".contains(tool) && "\(e)".contains("cannot start (Exec format error)"), "\(e)")
        }
    }

    /// Stands in for a cluster that loses the node under the first `lost` jobs.
    final class FlakyExecutor: StageExecutor, @unchecked Sendable {
        let name = "flaky"
        var lost: Int
        var state: String
        var calls = 0
        init(lost: Int, state: String = "NODE_FAIL") { self.lost = lost; self.state = state }
        func run(_ launch: StageLaunch) throws -> StageEnd {
            calls += 1
            launch.started("\(calls)")
            if calls <= lost {
                _ = FileManager.default.createFile(atPath: launch.staging + "/half", contents: Data("partial".utf8))
                return StageEnd(exit: .signal(9), state: state, job: "\(calls)")
            }
            var end = try LocalExecutor().run(launch)
            end.job = "\(calls)"
            return end
        }
        func cancelAll() {}
    }

    func testRetriesResubmitOnlyClusterFaultsIntoACleanStagingFolder() throws {
        let f = Fixture("retry")
        // Fails if the earlier attempt's leftovers are still in its staging folder.
        f.script("w.sh", #"[ -e "$(dirname "$1")/half" ] && exit 9; echo w > "$1""#)
        _ = f.pipeline("name: r\nstages:\n  a: {command: \"./w.sh ${out.f}\", outputs: {f: file}}\n")
        let flaky = FlakyExecutor(lost: 2)
        var r = try f.inFolder { () -> RunSummary in
            let runner = try f.runner()
            runner.executor = flaky
            return try runner.run(RunOptions(retries: 2))
        }
        XCTAssertEqual(r.ran, ["a"], f.lines.joined(separator: "\n"))
        XCTAssertEqual(flaky.calls, 3)
        XCTAssertEqual(f.lines.filter { $0.contains("retry   a: flaky job") || $0.contains("retry   a: SLURM job") }.count, 2, f.lines.joined(separator: "\n"))
        XCTAssertEqual(f.indexEntries().first?.job, "3")

        let f2 = Fixture("retry-exhausted")
        f2.script("w.sh", #"echo w > "$1""#)
        _ = f2.pipeline("name: r\nstages:\n  a: {command: \"./w.sh ${out.f}\", outputs: {f: file}}\n")
        let cancelled = FlakyExecutor(lost: 1, state: "CANCELLED")
        r = try f2.inFolder { () -> RunSummary in
            let runner = try f2.runner()
            runner.executor = cancelled
            return try runner.run(RunOptions(retries: 3))
        }
        XCTAssertEqual(cancelled.calls, 1, "a cancelled job is not a cluster fault: no retry")
        XCTAssertTrue(r.failed.first?.message.contains("CANCELLED") == true, r.failed.first?.message ?? "")
        XCTAssertTrue(f2.indexEntries().isEmpty)
    }

    func testConcurrentRunsShareStagesAndSlots() throws {
        let f = Fixture("concurrent-runs")
        f.script("work.sh", #"out=$1; shift; a=$(date +%s.%N); sleep "$1"; shift; b=$(date +%s.%N); echo "$a $b $*" > "$out""#)
        _ = f.pipeline("""
            name: grid
            params: {x: 1}
            stages:
              shared: {command: "./work.sh ${out.f} 0.3 shared", outputs: {f: file}}
              work: {command: "./work.sh ${out.f} 0.5 x=${x} ${shared.f}", outputs: {f: file}}
            """)
        let slots = JobSlots(3)
        let runners = try (1...4).map { try f.runner(["x": "\($0)"]) }
        let results = f.inFolder { ConcurrentRuns.run(runners, options: RunOptions(jobs: 3, slots: slots)) }
        XCTAssertEqual(try results.map { try $0.get().failed.count }, [0, 0, 0, 0])
        XCTAssertEqual(f.lines.filter { $0.hasPrefix("  start   shared") }.count, 1, "the shared stage ran once:\n\(f.lines.joined(separator: "\n"))")
        XCTAssertEqual(f.indexEntries().filter { $0.stage == "work" }.count, 4)
        XCTAssertTrue((2...3).contains(slots.peak), "several stages at once, never more than -j: \(slots.peak)")
        try f.assertCacheConsistent()
    }
}
