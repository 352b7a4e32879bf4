import Foundation
import TestSupport
import XCTest
@testable import Pipeline

/// The slurm executor against a real one-node cluster (`make test-slurm`): same results as local
/// runs, concurrency, and the faults clusters produce (scancel, time limits, lost nodes, signals).
final class SlurmExecutorTests: XCTestCase {
    override func setUpWithError() throws { try Cluster.require() }

    /// The tiny generated experiment (the stage tests' sizes) as a pipeline.
    static let tiny = """
        name: tiny
        resources: {cpus: 1, mem: 1G, time: "10"}
        stages:
          dataset:
            command: mscn dataset generate --out ${out.root} --train 12 --dev 6 --test 6 --size 32 --seed 5
            outputs: {root: dir}
          ingest:
            command: mscn-ingest --layout images --root ${dataset.root} --out-dir ${out.data} --min-count 1 --image-size 32
            outputs: {data: dir}
          features:
            foreach: {split: [train, dev, test]}
            name: "features_${split}"
            command: mscn-features --images ${ingest.data}/images-${split}.tzst --out ${out.features} --dim 24
            outputs: {features: file}
          noise:
            command: mscn-noise --corpus ${ingest.data}/corpus.tzst --ratio 0.5 --seed 3 --out ${out.map}
            outputs: {map: file}
          split:
            command: mscn-split --corpus ${ingest.data}/corpus.tzst --rule flickr --meta-fraction 0.2 --seed 3 --out ${out.meta}
            outputs: {meta: file}
          warmup:
            foreach: {net: [a, b]}
            name: "warmup_${net}"
            command: >-
              mscn-train --mode warmup --net ${net} --features ${features_train.features} --corpus ${ingest.data}/corpus.tzst
              --noise ${noise.map} --meta ${split.meta} --dev-features ${features_dev.features} --seed 3
              --embed-size 16 --sim-dim 8 --word-dim 8 --meta-hidden 8 --warmup-batch-size 16 --batch-size 16
              --warmup-epochs 1 --lr 0.001 --out ${out.ckpt} --log ${out.log}
            outputs: {ckpt: file, log: file}
            resources: {cpus: 1, mem: 2G}
          evaluate_test:
            command: >-
              mscn-evaluate --ckpt-a ${warmup_a.ckpt} --ckpt-b ${warmup_b.ckpt} --features ${features_test.features}
              --corpus ${ingest.data}/corpus.tzst --split test --out ${out.metrics}
            outputs: {metrics: file}
            stdout: echo
        publish: {metrics.json: "${evaluate_test.metrics}"}
        """

    func testTinyExperimentGivesTheSameMetricsAsLocal() throws {
        let p = Project("tiny")
        p.pipeline(Self.tiny)
        let local = try p.startMSCN(["run", "p.yaml", "--cache", p.path + "/Local", "-j", "2"], tag: "local")
        p.wait(local)
        XCTAssertEqual(local.terminationStatus, 0, p.read("local.err") ?? "")
        let slurm = try p.startMSCN(["run", "p.yaml", "--cache", p.path + "/Slurm", "-j", "2", "--executor", "slurm"], tag: "slurm")
        p.wait(slurm)
        XCTAssertEqual(slurm.terminationStatus, 0, p.read("slurm.err") ?? "")
        let a = try XCTUnwrap(FileManager.default.contents(atPath: p.path + "/Local/runs/latest/metrics.json"))
        let b = try XCTUnwrap(FileManager.default.contents(atPath: p.path + "/Slurm/runs/latest/metrics.json"))
        XCTAssertEqual(a, b, "metrics.json differs between --executor local and --executor slurm")
        XCTAssertEqual(p.read("slurm.out"), p.read("local.out"), "the echo stage's stdout reaches the terminal from a job too")
        let err = p.read("slurm.err") ?? ""
        XCTAssertEqual(err.components(separatedBy: "submit  ").count - 1, 10, "every stage is one job:\n\(err)")
        // The job id is in the stage log (and the index entry).
        let log = try XCTUnwrap(p.read("Slurm/runs/latest/evaluate_test/stage.log"))
        XCTAssertTrue(log.range(of: #"mscn: SLURM job [0-9]+ on \S+: COMPLETED"#, options: .regularExpression) != nil, log)
        let status = try runProduct(TestPaths.productsDirectory.appendingPathComponent("mscn").path,
                                    ["status", "p.yaml", "--cache", p.path + "/Slurm"], cwd: p.dir)
        XCTAssertTrue(status.stdout.contains("everything is up to date"), status.stdout + status.stderr)
    }

    func testSweepOfFourGridPointsRunsJobsAtOnceAndSharedStageOnce() throws {
        let p = Project("sweep")
        p.script("work.sh", #"out=$1; shift; sleep "$1"; shift; echo "$@" > "$out""#)
        p.pipeline("""
            name: grid
            params: {x: 1}
            resources: {cpus: 1, time: "5"}
            stages:
              shared: {command: "./work.sh ${out.f} 1 shared", outputs: {f: file}}
              work: {command: "./work.sh ${out.f} 4 x=${x} ${shared.f}", outputs: {f: file}}
            publish: {result: "${work.f}"}
            """)
        let executor = try SlurmExecutor(settings: SlurmSettings(pollInterval: 1), store: CacheStore(root: p.data + "/cache"))
        let runners = try (1...4).map { try p.runner([("x", "\($0)")], executor: executor) }
        let slots = JobSlots(4)
        let results = p.inFolder { ConcurrentRuns.run(runners, options: RunOptions(jobs: 4, slots: slots)) }
        for r in results { XCTAssertEqual(try r.get().failed.count, 0, p.log) }
        let entries = p.indexEntries()
        XCTAssertEqual(entries.filter { $0.stage == "shared" }.count, 1)
        XCTAssertEqual(entries.filter { $0.stage == "work" }.count, 4)
        XCTAssertEqual(p.log.components(separatedBy: "submit  shared").count - 1, 1, "the shared stage ran once:\n\(p.log)")
        // Overlap from the jobs' own start and end times.
        let intervals = try entries.filter { $0.stage == "work" }.map { try Cluster.interval(of: try XCTUnwrap($0.job)) }
        let most = intervals.map { a in intervals.filter { b in b.start < a.end && a.start < b.end }.count }.max() ?? 0
        XCTAssertGreaterThanOrEqual(most, 2, "at least two jobs ran at the same time: \(intervals)")
        XCTAssertGreaterThanOrEqual(slots.peak, 2)
    }

    func testMscnSweepCommandWithSlurmExecutor() throws {
        let p = Project("sweep-cli")
        p.script("work.sh", #"out=$1; shift; sleep "$1"; shift; echo "$@" > "$out""#)
        p.script("metrics.sh", #"sleep 3; printf '{"i2t_r1":%s,"i2t_r5":1,"i2t_r10":1,"i2t_medr":1,"i2t_meanr":1,"t2i_r1":1,"t2i_r5":1,"t2i_r10":1,"t2i_medr":1,"t2i_meanr":1,"rsum":%s}' "$2" "$2" > "$1""#)
        p.pipeline("""
            name: gridcli
            params: {x: 1}
            stages:
              shared: {command: "./work.sh ${out.f} 1 shared", outputs: {f: file}}
              metrics: {command: "./metrics.sh ${out.m} ${x} ${shared.f}", outputs: {m: file}}
            publish: {metrics.json: "${metrics.m}"}
            """)
        let sweep = try p.startMSCN(["sweep", "p.yaml", "--grid", "x=1,2,3,4", "--replicate", "none", "--no-baseline",
                                     "--cache", p.data, "--out", p.path + "/out", "-j", "4", "--executor", "slurm"], tag: "sweep")
        p.wait(sweep)
        let err = p.read("sweep.err") ?? ""
        XCTAssertEqual(sweep.terminationStatus, 0, err)
        XCTAssertEqual(err.components(separatedBy: "submit  shared").count - 1, 1, "the shared stage ran once:\n\(err)")
        XCTAssertEqual(err.components(separatedBy: "submit  metrics").count - 1, 4, err)
        let peak = try XCTUnwrap(err.range(of: #"at most [0-9]+ stages in flight at once"#, options: .regularExpression).map { err[$0] })
        XCTAssertGreaterThanOrEqual(Int(peak.split(separator: " ")[2]) ?? 0, 2, String(peak))
        XCTAssertEqual(p.read("out/results.csv")?.split(separator: "\n").count, 5, p.read("out/results.csv") ?? "")
    }

    func testCancelledAndTimedOutJobsAreReportedAndRedone() throws {
        let p = Project("faults")
        // Writes its name and its inputs' contents (paths would differ between caches).
        p.script("quick.sh", #"out=$1; shift; name=$1; shift; { echo "$name"; cat "$@"; } > "$out""#)
        // Hangs while its flag file exists; the flag is not part of the command, so not of the key.
        p.script("maybe_hang.sh", #"if [ -e "$(dirname "$0")/hang-$2" ]; then echo hanging; sleep 300; fi; echo "$2 done" > "$1""#)
        p.pipeline("""
            name: faults
            resources: {cpus: 1, time: "5"}
            stages:
              first: {command: "./quick.sh ${out.x} first", outputs: {x: file}}
              cancelled: {command: "./maybe_hang.sh ${out.x} cancelled ${first.x}", outputs: {x: file}}
              timeout:
                command: "./maybe_hang.sh ${out.x} timeout ${first.x}"
                outputs: {x: file}
                resources: {time: "1"}
              after: {command: "./quick.sh ${out.x} after ${cancelled.x} ${timeout.x}", outputs: {x: file}}
            publish: {after.txt: "${after.x}", cancelled.txt: "${cancelled.x}", timeout.txt: "${timeout.x}"}
            """)
        p.write("hang-cancelled", "")
        p.write("hang-timeout", "")
        let runner = try p.runner()
        let box = SummaryBox()
        let done = DispatchSemaphore(value: 0)
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(p.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        Thread {
            box.result = Result { try runner.run(RunOptions(jobs: 3)) }
            done.signal()
        }.start()
        let victim = try Cluster.waitForRunningJob("cancelled")
        XCTAssertEqual(try Cluster.tool("scancel", [victim]).status, 0)
        // The time limit is one minute; SLURM enforces it on its next periodic check (≤ 30 s later).
        XCTAssertEqual(done.wait(timeout: .now() + 240), .success, "the run did not end:\n\(p.log)")
        let summary = try XCTUnwrap(box.result).get()
        XCTAssertEqual(Set(summary.failed.map(\.stage)), ["cancelled", "timeout"], p.log)
        let messages = Dictionary(summary.failed.map { ($0.stage, $0.message) }, uniquingKeysWith: { a, _ in a })
        XCTAssertTrue(messages["cancelled"]?.contains("SLURM job \(victim): CANCELLED") == true, messages["cancelled"] ?? "")
        XCTAssertTrue(messages["timeout"]?.contains("TIMEOUT") == true, messages["timeout"] ?? "")
        XCTAssertTrue(summary.failed.allSatisfy { $0.log.map { FileManager.default.fileExists(atPath: $0) } == true }, "each failure names its log")
        XCTAssertEqual(summary.skipped, ["after"])
        XCTAssertEqual(Set(p.indexEntries().map(\.stage)), ["first"], "nothing of the killed jobs looks finished")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: p.data + "/cache/tmp").filter { !$0.hasPrefix(".") }, [])

        try FileManager.default.removeItem(atPath: p.path + "/hang-cancelled")
        try FileManager.default.removeItem(atPath: p.path + "/hang-timeout")
        let again = try p.runner().run(RunOptions(jobs: 3))
        XCTAssertEqual(again.failed.count, 0, p.log)
        XCTAssertEqual(again.cached, ["first"])
        XCTAssertEqual(Set(again.ran), ["cancelled", "timeout", "after"])

        // An uninterrupted run in a fresh cache gives the same artefacts.
        let clean = try p.runner(executor: LocalExecutor(), data: p.path + "/Clean").run(RunOptions(jobs: 2))
        XCTAssertEqual(clean.failed.count, 0)
        for name in ["after.txt", "cancelled.txt", "timeout.txt"] {
            XCTAssertEqual(p.read("Data/runs/latest/\(name)"), p.read("Clean/runs/latest/\(name)"), name)
            XCTAssertNotNil(p.read("Data/runs/latest/\(name)"))
        }
    }

    func testLostNodeIsResubmittedWithRetries() throws {
        let p = Project("nodefail")
        // The first attempt leaves a mark and hangs until the node is taken away; later ones finish.
        p.script("once.sh", #"m="$(dirname "$0")/mark"; if [ ! -e "$m" ]; then : > "$m"; sleep 120; fi; echo finished > "$1""#)
        p.pipeline("""
            name: nodefail
            resources: {time: "5"}
            stages:
              victim: {command: "./once.sh ${out.x}", outputs: {x: file}}
            """)
        let node = try Cluster.tool("sinfo", ["-h", "-o", "%N"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let runner = try p.runner()
        let box = SummaryBox()
        let done = DispatchSemaphore(value: 0)
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(p.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        Thread {
            box.result = Result { try runner.run(RunOptions(jobs: 1, retries: 1)) }
            done.signal()
        }.start()
        let first = try Cluster.waitForRunningJob("victim")
        // RUNNING comes before the batch script's first line: a node taken down in between killed
        // the first attempt before it left its mark, so the resubmitted one slept in its place
        // and the run outlived the wait (seen once in CI on a slow machine).
        let mark = p.path + "/mark"
        for _ in 0..<600 {
            if FileManager.default.fileExists(atPath: mark) { break }
            usleep(100_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: mark), "the first attempt never started its script:\n\(p.log)")
        _ = try Cluster.tool("scontrol", ["update", "nodename=\(node)", "state=down", "reason=mscn-test"])
        // ReturnToService=2 brings the node back once slurmd registers; resume it in case it has not.
        for _ in 0..<50 {
            if try Cluster.tool("sinfo", ["-h", "-o", "%T"]).stdout.contains("idle") { break }
            _ = try Cluster.tool("scontrol", ["update", "nodename=\(node)", "state=resume"])
            usleep(200_000)
        }
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success, "the run did not end:\n\(p.log)")
        let summary = try XCTUnwrap(box.result).get()
        XCTAssertEqual(summary.failed.count, 0, p.log)
        XCTAssertTrue(p.log.contains("retry   victim: SLURM job \(first): NODE_FAIL"), p.log)
        XCTAssertEqual(p.read("Data/runs/latest/victim/x"), "finished\n")
        XCTAssertNotEqual(p.indexEntries().first?.job, first, "the result comes from the resubmitted job")
    }

    func testFailingCommandIsNotRetriedAndReportsItsLog() throws {
        let p = Project("cmdfail")
        p.script("bad.sh", #"echo "no such tensor" >&2; exit 3"#)
        p.pipeline("""
            name: cmdfail
            stages:
              broken: {command: "./bad.sh ${out.x}", outputs: {x: file}}
            """)
        let s = try p.inFolder { try p.runner().run(RunOptions(retries: 2)) }
        let f = try XCTUnwrap(s.failed.first)
        XCTAssertTrue(f.message.contains("FAILED") && f.message.contains("exit status 3"), f.message)
        XCTAssertFalse(p.log.contains("retry"), p.log)
        XCTAssertTrue(p.log.contains("no such tensor"), "the failure shows the log's tail:\n\(p.log)")
    }

    func testNodeThatSeesAnotherCacheFailsClearly() throws {
        let p = Project("unshared")
        p.script("ok.sh", #"echo ok > "$1""#)
        p.pipeline("""
            name: unshared
            stages:
              s: {command: "./ok.sh ${out.x}", outputs: {x: file}}
            """)
        let runner = try p.runner()
        // What a node would see if its folder at this path were not the runner's.
        let id = p.data + "/cache/" + CacheStore.identityFile
        let mine = try XCTUnwrap(p.read("Data/cache/" + CacheStore.identityFile))
        try Data("some-other-folder\n".utf8).write(to: URL(fileURLWithPath: id))
        let s = try p.inFolder { try runner.run() }
        let f = try XCTUnwrap(s.failed.first, p.log)
        XCTAssertTrue(f.message.contains("does not see the runner's cache folder") && f.message.contains(p.data + "/cache"), f.message)
        try Data(mine.utf8).write(to: URL(fileURLWithPath: id))
        XCTAssertEqual(try p.inFolder { try p.runner().run() }.ran, ["s"])
    }

    func testTwoRunnersOnOneCacheRunEachStageOnce() throws {
        let p = Project("two")
        p.script("work.sh", #"out=$1; shift; sleep 0.3; echo "$@" > "$out""#)
        p.pipeline("""
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
        let args = ["run", "p.yaml", "--cache", p.data, "-j", "2", "--executor", "slurm"]
        let one = try p.startMSCN(args, tag: "one"), two = try p.startMSCN(args, tag: "two")
        p.wait(one)
        p.wait(two)
        XCTAssertEqual(one.terminationStatus, 0, p.read("one.err") ?? "")
        XCTAssertEqual(two.terminationStatus, 0, p.read("two.err") ?? "")
        let log = (p.read("one.err") ?? "") + (p.read("two.err") ?? "")
        XCTAssertEqual(log.components(separatedBy: "submit  ").count - 1, 9, "each stage is one job across both runners:\n\(log)")
        XCTAssertEqual(p.indexEntries().count, 9)
        for e in p.indexEntries() {
            for (name, o) in e.outputs {
                XCTAssertEqual(try ContentDigest.file(p.data + "/cache/objects/\(o.digest)/\(name)"), o.digest)
            }
        }
    }

    func testTerminatedRunnerLeavesNoJobInTheQueue() throws {
        let p = Project("term")
        p.script("hang.sh", "sleep 300")
        p.pipeline("""
            name: term
            stages:
              hang_term: {command: "./hang.sh ${out.x}", outputs: {x: file}}
              hang_term2: {command: "./hang.sh ${out.x} 2", outputs: {x: file}}
            """)
        let runner = try p.startMSCN(["run", "p.yaml", "--cache", p.data, "-j", "2", "--executor", "slurm"], tag: "term")
        let job = try Cluster.waitForRunningJob("hang_term")
        _ = try Cluster.waitForRunningJob("hang_term2")
        let status = try runProduct(TestPaths.productsDirectory.appendingPathComponent("mscn").path,
                                    ["status", "p.yaml", "--cache", p.data], cwd: p.dir)
        XCTAssertTrue(status.stdout.contains("stale  hang_term: never run; in flight as SLURM job \(job) since"), status.stdout)
        kill(runner.processIdentifier, SIGTERM)
        p.wait(runner, seconds: 30)
        XCTAssertEqual(runner.terminationStatus, 128 + SIGTERM, p.read("term.err") ?? "")
        XCTAssertTrue(p.read("term.err")?.contains("cluster jobs were cancelled") == true, p.read("term.err") ?? "")
        // scancel is immediate; the jobs may show COMPLETING for a moment while the node kills them.
        var left: [(id: String, state: String)] = []
        for _ in 0..<100 {
            left = try Cluster.jobs(named: "hang_term") + Cluster.jobs(named: "hang_term2")
            if left.isEmpty { break }
            usleep(100_000)
        }
        XCTAssertTrue(left.isEmpty, "jobs left in squeue: \(left)")
        XCTAssertTrue(p.indexEntries().isEmpty)
    }
}

final class SummaryBox: @unchecked Sendable {
    var result: Result<RunSummary, Error>?
}
