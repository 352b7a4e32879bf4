import TestSupport
import XCTest
@testable import Pipeline

/// The `mscn run/status/explain` executable: killing, concurrency, exit codes.
final class ProcessTests: XCTestCase {
    func wait(_ p: Process, seconds: Double = 60) {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
    }

    func testKilledRunLeavesNothingFinishedAndResumes() throws {
        let f = Fixture("kill")
        // The first attempt records its pid and hangs; later attempts finish at once. `after`
        // reads both, so their chains tie and `quick` (first in the file) runs first.
        f.script("slow.sh", """
            if [ ! -e "$MARK" ]; then : > "$MARK"; echo $$ > "$PIDFILE"; echo partial > "$1"; exec sleep 60; fi
            echo finished > "$1"
            """)
        f.script("quick.sh", #"echo quick > "$1""#)
        _ = f.pipeline("""
            name: kill
            stages:
              quick: {command: "./quick.sh ${out.x}", outputs: {x: file}}
              slow: {command: "./slow.sh ${out.x}", outputs: {x: file}}
              after: {command: "./quick.sh ${out.x} ${slow.x} ${quick.x}", outputs: {x: file}}
            """)
        let env = ["MARK": f.path + "/mark", "PIDFILE": f.path + "/pid"]
        let runner = try startMSCN(["run", "p.yaml", "--cache", f.data], in: f, tag: "first", environment: env)
        let deadline = Date().addingTimeInterval(30)
        var childPid: Int32?
        while childPid == nil && Date() < deadline {
            childPid = f.read("pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if childPid == nil { usleep(20_000) }
        }
        let child = try XCTUnwrap(childPid, "the slow stage never started")
        kill(runner.processIdentifier, SIGKILL)
        kill(child, SIGKILL)
        runner.waitUntilExit()

        XCTAssertEqual(f.indexEntries().map(\.stage), ["quick"], "only the finished stage is in the index")
        let objects = try FileManager.default.contentsOfDirectory(atPath: f.data + "/cache/objects")
        XCTAssertFalse(objects.contains { f.read("Data/cache/objects/\($0)/x") == "partial\n" },
                       "the killed stage's partial output was not published")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.data + "/runs/latest"))
        let status = try runProduct(try mscnExecutable(), ["status", "p.yaml", "--cache", f.data], cwd: f.dir)
        XCTAssertTrue(status.stdout.contains("stale  slow"), status.stdout + status.stderr)

        let again = try runProduct(try mscnExecutable(), ["run", "p.yaml", "--cache", f.data], cwd: f.dir, environment: env)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("cached  quick") && again.stderr.contains("start   slow"), again.stderr)
        XCTAssertEqual(f.read("Data/runs/latest/slow/x"), "finished\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.data + "/cache/tmp"), [],
                       "the killed run's staging folder is removed")
        try f.assertCacheConsistent()
    }

    func testTerminatingTheRunnerStopsItsStages() throws {
        let f = Fixture("term")
        f.script("hang.sh", """
            echo $$ > "$PIDFILE"; exec sleep 60
            """)
        _ = f.pipeline("""
            name: term
            stages:
              hang: {command: "./hang.sh ${out.x}", outputs: {x: file}}
            """)
        let runner = try startMSCN(["run", "p.yaml", "--cache", f.data], in: f, tag: "term",
                                   environment: ["PIDFILE": f.path + "/pid"])
        let deadline = Date().addingTimeInterval(30)
        var childPid: Int32?
        while childPid == nil && Date() < deadline {
            childPid = f.read("pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if childPid == nil { usleep(20_000) }
        }
        let child = try XCTUnwrap(childPid, "the stage never started")
        kill(runner.processIdentifier, SIGTERM)
        wait(runner, seconds: 10)
        XCTAssertEqual(runner.terminationStatus, 128 + SIGTERM)
        // The stage must be gone too (reaped by nobody, so poll until kill(0) fails or it is a zombie).
        var alive = true
        let until = Date().addingTimeInterval(5)
        while alive && Date() < until {
            alive = kill(child, 0) == 0 && !isZombie(child)
            if alive { usleep(20_000) }
        }
        if alive { kill(child, SIGKILL) }
        XCTAssertFalse(alive, "the stage kept running after the runner was terminated")
        XCTAssertTrue(f.indexEntries().isEmpty, "nothing was published")
    }

    private func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    func testTwoConcurrentRunsShareOneCache() throws {
        let f = Fixture("concurrent")
        f.script("work.sh", #"out=$1; shift; sleep 0.2; echo "$@" > "$out""#)
        _ = f.pipeline("""
            name: both
            stages:
              a:
                foreach: {i: "1..4"}
                command: ./work.sh ${out.x} a ${i}
                outputs: {x: file}
              b:
                foreach: {i: "1..4"}
                command: ./work.sh ${out.x} b ${a@${i}.x}
                outputs: {x: file}
              all:
                command: ./work.sh ${out.x} ${b@*.x}
                outputs: {x: file}
            """)
        let args = ["run", "p.yaml", "--cache", f.data, "-j", "2"]
        let one = try startMSCN(args, in: f, tag: "one"), two = try startMSCN(args, in: f, tag: "two")
        wait(one)
        wait(two)
        XCTAssertEqual(one.terminationStatus, 0, f.read("one.err") ?? "")
        XCTAssertEqual(two.terminationStatus, 0, f.read("two.err") ?? "")
        let log = (f.read("one.err") ?? "") + (f.read("two.err") ?? "")
        let starts = log.split(separator: "\n").filter { $0.contains("start ") }.count
        XCTAssertEqual(starts, 9, "each stage runs once across both runners (the key lock):\n\(log)")
        XCTAssertEqual(f.indexEntries().count, 9)
        try f.assertCacheConsistent()
        XCTAssertEqual(try f.run().ran, [], "after both, nothing is stale")
        XCTAssertEqual(f.read("Data/runs/latest/all/x")?.components(separatedBy: "objects/").count, 5)
    }

    func testFailingStageExitsNonZeroNamingStageAndLog() throws {
        let f = Fixture("cli-fail")
        f.script("bad.sh", #"echo "no such tensor" >&2; exit 2"#)
        _ = f.pipeline("""
            name: fail
            stages:
              broken: {command: "./bad.sh", outputs: {x: file}}
            """)
        let r = try runProduct(try mscnExecutable(), ["run", "p.yaml", "--cache", f.data], cwd: f.dir)
        XCTAssertNotEqual(r.status, 0)
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasPrefix("mscn run: error: stage broken failed (exit status 2); log: "), r.stderr)
        let marker = try XCTUnwrap(last.range(of: "log: "))
        let logPath = String(last[marker.upperBound...])
        XCTAssertTrue(try String(contentsOfFile: logPath, encoding: .utf8).contains("no such tensor"))

        let explain = try runProduct(try mscnExecutable(), ["explain", "p.yaml", "broken", "--cache", f.data], cwd: f.dir)
        XCTAssertTrue(explain.stdout.contains("never run"), explain.stdout + explain.stderr)
        let unknown = try runProduct(try mscnExecutable(), ["run", "p.yaml", "--set", "x=1", "--cache", f.data], cwd: f.dir)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown parameter 'x'"), unknown.stderr)
    }

    func testStageExecutablesResolveBesideMSCN() throws {
        let f = Fixture("tooldir")
        _ = f.pipeline("""
            name: tools
            stages:
              help: {command: "mscn tensor --help", stdout: echo}
            """)
        let r = try runProduct(try mscnExecutable(), ["run", "p.yaml", "--cache", f.data], cwd: f.dir,
                               environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Inspect, verify and convert tensor files"), "echo stage stdout reaches the terminal")
        let entry = try XCTUnwrap(f.indexEntries().first)
        XCTAssertEqual(entry.record.executablePath,
                       URL(fileURLWithPath: try mscnExecutable()).standardizedFileURL.path)
    }
}
