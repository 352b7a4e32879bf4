import XCTest
@testable import Pipeline

/// Cache behaviour of in-process runs over tiny shell-script stages.
final class RunnerTests: XCTestCase {
    /// in.txt → upper (parameterised) → combine(upper, other); other is an independent branch.
    func makeChain(_ f: Fixture) {
        f.script("upper.sh", #"printf '%s %s\n' "$(cat "$1")" "$3" > "$2""#)
        f.script("combine.sh", #"out=$1; shift; cat "$@" > "$out""#)
        f.write("in.txt", "hello")
        _ = f.pipeline("""
            name: chain
            params: {noise: 0.2, input: ./in.txt}
            stages:
              upper:
                command: ./upper.sh ${input} ${out.txt} ${noise}
                outputs: {txt: file}
              other:
                command: ./upper.sh ${input} ${out.txt} fixed
                outputs: {txt: file}
              combine:
                command: ./combine.sh ${out.txt} ${upper.txt} ${other.txt}
                outputs: {txt: file}
            publish: {result.txt: "${combine.txt}"}
            """)
    }

    func testFirstRunThenNoOpRerun() throws {
        let f = Fixture()
        makeChain(f)
        let first = try f.run()
        XCTAssertEqual(first.ran, ["upper", "other", "combine"])
        XCTAssertEqual(f.read("Data/runs/latest/result.txt"), "hello 0.2\nhello fixed\n")
        XCTAssertEqual(f.read("Data/runs/latest/upper/txt"), "hello 0.2\n")
        XCTAssertNotNil(f.read("Data/runs/latest/params.json"))
        XCTAssertEqual(f.read("Data/runs/latest/upper/stage.log"), "", "the stage's (empty) log is linked")
        let again = try f.run()
        XCTAssertEqual(again.ran, [])
        XCTAssertEqual(again.cached.count, 3)
        XCTAssertTrue(f.lines.last?.hasPrefix("everything is up to date") ?? false, f.lines.joined(separator: "\n"))
        try f.assertCacheConsistent()
    }

    /// Each stage's done line says how far the run is; once the cache has timed every stage, the
    /// time left is an estimate, not a lower bound.
    func testDoneLinesCountStagesAndEstimateTheRest() throws {
        let f = Fixture()
        makeChain(f)
        try f.run()
        let done = f.lines.filter { $0.hasPrefix("  done") }
        XCTAssertEqual(done.count, 3, f.lines.joined(separator: "\n"))
        XCTAssertTrue(done[0].contains(" · 1/3 stages, ") && done[0].contains("at least"), done[0])
        XCTAssertTrue(done[2].contains(" · 3/3 stages, ") && !done[2].contains("left"), done[2])
        f.lines = []
        try f.run(["noise": "0.5"])  // upper and combine again; other cached
        let again = f.lines.filter { $0.hasPrefix("  done") }
        XCTAssertEqual(again.count, 2, f.lines.joined(separator: "\n"))
        XCTAssertTrue(again[0].contains(" · 2/3 stages, ") && again[0].contains("about"), again[0])
        // With job slots shared with other runs (a sweep), the count and time only.
        f.lines = []
        try f.run(["noise": "0.7"], RunOptions(jobs: 2, slots: JobSlots(2)))
        let shared = f.lines.filter { $0.hasPrefix("  done") }
        XCTAssertEqual(shared.count, 2, f.lines.joined(separator: "\n"))
        XCTAssertTrue(shared.allSatisfy { $0.contains("/3 stages, ") && !$0.contains("left") }, shared.joined(separator: "\n"))
    }

    func testExternalInputEditMakesStale() throws {
        let f = Fixture()
        makeChain(f)
        try f.run()
        f.write("in.txt", "world")
        let stale = try f.inFolder { try f.runner().assess() }.filter { $0.state != .fresh }.map(\.stage)
        XCTAssertEqual(stale, ["upper", "other", "combine"])
        let why = try f.inFolder { try f.runner().explain("upper") }
        XCTAssertTrue(why.contains("input ./in.txt:"), why)
        XCTAssertEqual(try f.run().ran, ["upper", "other", "combine"])
        XCTAssertEqual(f.read("Data/runs/latest/result.txt"), "world 0.2\nworld fixed\n")
    }

    func testParameterChangeAndCacheRestore() throws {
        let f = Fixture()
        makeChain(f)
        try f.run(["noise": "0.2"])
        let folder02 = try XCTUnwrap(FileManager.default.destinationOfSymbolicLink(atPath: f.data + "/runs/latest"))
        XCTAssertTrue(folder02.hasPrefix("chain-noise0.2-"), folder02)

        let why = try f.inFolder { try f.runner(["noise": "0.7"]).explain("upper") }
        XCTAssertTrue(why.contains("param noise: 0.2 → 0.7"), why)
        let downstream = try f.inFolder { try f.runner(["noise": "0.7"]).explain("combine") }
        XCTAssertTrue(downstream.contains("reads outputs of stale upper") && downstream.contains("stale upstream stages:\n  upper: param noise"), downstream)
        let status = try f.inFolder { try f.runner(["noise": "0.7"]).assess() }
        XCTAssertEqual(status.filter { $0.state != .fresh }.map(\.stage), ["upper", "combine"])

        XCTAssertEqual(try f.run(["noise": "0.7"]).ran, ["upper", "combine"], "the independent branch stays cached")
        XCTAssertEqual(f.read("Data/runs/latest/result.txt"), "hello 0.7\nhello fixed\n")
        let back = try f.run(["noise": "0.2"])
        XCTAssertEqual(back.ran, [], "going back to 0.2 restores from the cache")
        XCTAssertEqual(f.read("Data/runs/latest/result.txt"), "hello 0.2\nhello fixed\n")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: f.data + "/runs/latest"), folder02)
    }

    func testBinaryChangeMakesStale() throws {
        let f = Fixture()
        makeChain(f)
        try f.run()
        // Same behaviour, different bytes: the executable's identity changed.
        f.script("upper.sh", #"printf '%s %s\n' "$(cat "$1")" "$3" > "$2" # rebuilt"#)
        let why = try f.inFolder { try f.runner().explain("upper") }
        XCTAssertTrue(why.contains("binary:"), why)
        let second = try f.run()
        XCTAssertEqual(Set(second.ran), ["upper", "other"])
        XCTAssertEqual(second.cached, ["combine"], "byte-identical outputs keep the dependent valid (early cutoff)")
    }

    func testFailingStageStopsDependentsKeepsLogAndNamesIt() throws {
        let f = Fixture()
        f.script("ok.sh", #"echo fine > "$1""#)
        f.script("bad.sh", #"echo "something broke" >&2; exit 3"#)
        _ = f.pipeline("""
            name: fail
            stages:
              bad: {command: "./bad.sh ${out.x}", outputs: {x: file}}
              after: {command: "./ok.sh ${out.x} ${bad.x}", outputs: {x: file}}
              independent: {command: "./ok.sh ${out.x}", outputs: {x: file}}
            """)
        let s = try f.run([:], RunOptions(jobs: 1))
        XCTAssertEqual(s.failed.map(\.stage), ["bad"])
        XCTAssertEqual(s.skipped, ["after"])
        XCTAssertEqual(s.ran, ["independent"])
        let failure = try XCTUnwrap(s.failed.first)
        XCTAssertTrue(failure.message.contains("bad") && failure.message.contains("exit status 3"), failure.message)
        let log = try XCTUnwrap(failure.log)
        XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).contains("something broke"))
        XCTAssertTrue(f.lines.joined().contains(log), "the progress output names the log")
        XCTAssertFalse(f.indexEntries().contains { $0.stage == "bad" }, "a failed stage leaves no index entry")
    }

    func testStageWarningsReachTheRunOutput() throws {
        let f = Fixture()
        f.script("warn.sh", #"echo "progress 1/2" >&2; echo "tool: warning: scores collapsed" >&2; echo done > "$1""#)
        f.script("quiet.sh", #"echo "no warning here" >&2; echo done > "$1""#)
        _ = f.pipeline("""
            name: warn
            stages:
              loud: {command: "./warn.sh ${out.x}", outputs: {x: file}}
              quiet: {command: "./quiet.sh ${out.x}", outputs: {x: file}}
            """)
        let s = try f.run([:], RunOptions(jobs: 1))
        XCTAssertEqual(Set(s.ran), ["loud", "quiet"])
        let relayed = f.lines.joined(separator: "\n").split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(relayed.map { $0.trimmingCharacters(in: .whitespaces) }, ["warning loud: tool: warning: scores collapsed"])
        XCTAssertEqual(StageWarnings.lines(in: "a\r  x: warning: y  \nb: warning z\n"), ["x: warning: y"])
    }

    func testMissingDeclaredOutputFails() throws {
        let f = Fixture()
        f.script("lazy.sh", "exit 0")
        _ = f.pipeline("""
            name: lazy
            stages:
              lazy: {command: "./lazy.sh ${out.x}", outputs: {x: file, d: dir}}
            """)
        let s = try f.run()
        XCTAssertTrue(s.failed.first?.message.contains("did not create its output") ?? false, "\(s.failed)")
        XCTAssertTrue(f.indexEntries().isEmpty)
    }

    func testParallelIndependentStagesOverlap() throws {
        let f = Fixture()
        f.script("slow.sh", #"a=$(date +%s.%N); echo "halfway there" >&2; sleep 0.6; b=$(date +%s.%N); echo "$a $b" > "$1""#)
        f.progressInterval = 0.2
        _ = f.pipeline("""
            name: par
            stages:
              one: {command: "./slow.sh ${out.t}", outputs: {t: file}}
              two: {command: "./slow.sh ${out.t} second", outputs: {t: file}}
            """)
        let s = try f.run([:], RunOptions(jobs: 2))
        XCTAssertEqual(Set(s.ran), ["one", "two"])
        func interval(_ stage: String) throws -> (Double, Double) {
            let parts = try XCTUnwrap(f.read("Data/runs/latest/\(stage)/t")).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            XCTAssertEqual(parts.count, 2)
            return (parts[0], parts[1])
        }
        let (a0, a1) = try interval("one"), (b0, b1) = try interval("two")
        XCTAssertTrue(a0 < b1 && b0 < a1, "with -j 2 the stages overlap: one \(a0)–\(a1), two \(b0)–\(b1)")
        XCTAssertTrue(f.lines.contains { $0.hasSuffix("one: halfway there") }, "the runner relays a long stage's progress:\n\(f.lines.joined(separator: "\n"))")
    }

    /// Of the stages ready at once, the one with the longest chain still waiting on it starts
    /// first (ties in file order): a side branch declared early waits for the main chain's next
    /// stage, as a round's purification goes before the previous round's dev evaluation.
    func testLongestChainStartsFirst() throws {
        let f = Fixture()
        f.script("step.sh", #"out=$1; shift; echo "$*" > "$out""#)
        _ = f.pipeline("""
            name: chain
            stages:
              a: {command: "./step.sh ${out.t} a", outputs: {t: file}}
              side: {command: "./step.sh ${out.t} side ${a.t}", outputs: {t: file}}
              b: {command: "./step.sh ${out.t} ${a.t}", outputs: {t: file}}
              c: {command: "./step.sh ${out.t} ${b.t}", outputs: {t: file}}
              end: {command: "./step.sh ${out.t} ${c.t} ${side.t}", outputs: {t: file}}
            """)
        XCTAssertEqual(try f.run([:], RunOptions(jobs: 1)).ran, ["a", "b", "side", "c", "end"])
        let plan = try f.inFolder { try f.runner().plan }
        let order = try plan.needed()
        XCTAssertEqual(order.map { plan.stages[$0].name }, ["a", "side", "b", "c", "end"], "file order")
        XCTAssertEqual(plan.longestChainFirst(order).map { plan.stages[$0].name }, ["a", "b", "side", "c", "end"])
    }

    func testRangeExpansionListsAndOnDemand() throws {
        let f = Fixture()
        f.script("step.sh", #"out=$1; shift; echo "$*" > "$out""#)
        f.script("gen.sh", #"mkdir "$1" && echo generated > "$1/file""#)
        f.script("list.sh", #"for x in "$@"; do cat "$x"; done"#)
        _ = f.pipeline("""
            name: rounds
            params: {epochs: 3, data: "${dataset.root}"}
            stages:
              dataset:
                on_demand: true
                command: ./gen.sh ${out.root}
                outputs: {root: dir}
              warm:
                command: ./step.sh ${out.x} warm
                outputs: {x: file}
              train:
                foreach: {round: "1..${epochs}"}
                command: >-
                  ./step.sh ${out.x} round ${round} after ${round == 1 ? warm.x : train@${round-1}.x}
                  data ${data}
                outputs: {x: file}
              report:
                command: ./list.sh ${train@*.x}
                stdout: echo
            """)
        let s = try f.run()
        XCTAssertEqual(s.ran, ["dataset", "warm", "train@1", "train@2", "train@3", "report"])
        let t2 = try XCTUnwrap(f.read("Data/runs/latest/train@2/x"))
        XCTAssertTrue(t2.hasPrefix("round 2 after /") && t2.contains("/objects/"), t2)
        let entries = f.indexEntries()
        let t1 = try XCTUnwrap(entries.first { $0.stage == "train@1" })
        XCTAssertEqual(Set(t1.record.inputs.keys), ["warm.x", "dataset.root"])
        XCTAssertEqual(String(decoding: f.echoed, as: UTF8.self).split(separator: "\n").count, 3, "echo shows every round's line")
        XCTAssertEqual(f.read("Data/runs/latest/dataset/root/file"), "generated\n")
        XCTAssertEqual(f.read("Data/runs/latest/report/stage.stdout")?.split(separator: "\n").count, 3)

        // Cached echo stages replay their output; an external data path drops the on-demand stage.
        f.echoed = Data()
        XCTAssertEqual(try f.run().ran, [])
        XCTAssertEqual(String(decoding: f.echoed, as: UTF8.self).split(separator: "\n").count, 3)
        try FileManager.default.createDirectory(atPath: f.path + "/mydata", withIntermediateDirectories: true)
        f.write("mydata/a", "a")
        let external = try f.run(["data": "./mydata", "epochs": "4"])
        XCTAssertFalse(external.ran.contains("dataset") || external.cached.contains("dataset"))
        XCTAssertEqual(external.ran, ["train@1", "train@2", "train@3", "train@4", "report"])
        f.write("mydata/b", "new file in the external folder")
        let why = try f.inFolder { try f.runner(["data": "./mydata", "epochs": "4"]).explain("train@1") }
        XCTAssertTrue(why.contains("input ./mydata:"), why)
        XCTAssertEqual(try f.run(["data": "./mydata", "epochs": "4"]).ran.first, "train@1")
    }

    /// Each stage's command differs (STEP=i): stages that ran the same command on the same
    /// content would share one key (content keys), and the chain would run once.
    func testNoOpRerunOf250StagesExecutesNothing() throws {
        let f = Fixture()
        f.write("seed.txt", "0")
        _ = f.pipeline("""
            name: many
            params: {n: 250}
            stages:
              s:
                foreach: {i: "1..${n}"}
                command: >-
                  /usr/bin/env STEP=${i} /bin/cp ${i == 1 ? 'seed.txt' : s@${i-1}.f} ${out.f}
                outputs: {f: file}
            """)
        XCTAssertEqual(try f.run().ran.count, 250)
        let again = try f.run()
        XCTAssertEqual(again.ran, [])
        XCTAssertEqual(again.cached.count, 250)
    }

    func testObjectsAreReadOnlyAndStagingIsCleaned() throws {
        let f = Fixture()
        makeChain(f)
        try f.run()
        for e in f.indexEntries() {
            for (name, o) in e.outputs {
                var st = stat()
                XCTAssertEqual(stat(f.data + "/cache/objects/\(o.digest)/\(name)", &st), 0)
                XCTAssertEqual(st.st_mode & 0o222, 0, "objects must not be writable")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.data + "/cache/tmp"), [])
    }

    func testDryRunListsWhatWouldRunWithoutRunning() throws {
        let f = Fixture()
        makeChain(f)
        let dry = try f.run([:], RunOptions(dryRun: true))
        XCTAssertEqual(dry.wouldRun, ["upper", "other", "combine"])
        XCTAssertTrue(f.indexEntries().isEmpty)
        XCTAssertTrue(f.lines.contains { $0.contains("would run upper: never run") }, f.lines.joined(separator: "\n"))
    }

    /// `run --dry-run` and `status` say how long the stale stages take, from the cache's record
    /// of each stage's last run; at least that long while some stage never ran.
    func testDryRunEstimatesTheTimeOfWhatWouldRun() throws {
        let f = Fixture()
        makeChain(f)
        _ = try f.run([:], RunOptions(dryRun: true))
        XCTAssertTrue(f.lines.last?.hasSuffix("; no time estimate (none of them has run with this cache)") ?? false,
                      f.lines.joined(separator: "\n"))
        _ = try f.run([:], RunOptions(until: "upper"))
        f.lines = []
        _ = try f.run(["noise": "0.7"], RunOptions(jobs: 2, dryRun: true))
        let partial = try XCTUnwrap(f.lines.last)
        XCTAssertTrue(partial.hasPrefix("3 would run, 0 cached; at least ") && partial.contains(" with -j 2 ")
                      && partial.hasSuffix("; 2 never ran)"), partial)
        _ = try f.run()
        // Now upper and combine are stale and timed: their chain, whatever -j.
        let runner = try f.inFolder { try f.runner(["noise": "0.7"]) }
        let assessed = try f.inFolder { try runner.assess() }
        let recorded = try ["upper", "combine"].map { try XCTUnwrap(runner.store.latestEntry(forStage: $0)?.seconds) }
        for jobs in [1, 2] {
            let guess = try XCTUnwrap(runner.timeToRun(assessed, jobs: jobs))
            XCTAssertEqual(guess.untimed, 0)
            XCTAssertEqual(guess.seconds, recorded[0] + recorded[1], accuracy: 1e-9)
        }
        f.lines = []
        _ = try f.run(["noise": "0.7"], RunOptions(dryRun: true))
        XCTAssertTrue(f.lines.last?.hasPrefix("2 would run, 1 cached; about ") ?? false, f.lines.joined(separator: "\n"))
    }

    /// A sweep's dry run counts a stage two runs would compute alike once: its projected key, made
    /// before its inputs exist, is the same in both; a stage whose inputs exist gets its real key.
    func testSweepForecastCountsSharedStagesOnce() throws {
        let f = Fixture()
        makeChain(f)
        let runners = try f.inFolder { try ["0.2", "0.7"].map { try f.runner(["noise": $0]) } }
        let plans = try f.inFolder { try runners.map { try $0.projectedStale() } }
        XCTAssertEqual(plans.map { $0.map(\.stage) }, [["upper", "other", "combine"], ["upper", "other", "combine"]])
        XCTAssertEqual(plans[0][1].key, plans[1][1].key, "other does not read noise")
        XCTAssertNotEqual(plans[0][0].key, plans[1][0].key)
        XCTAssertNotEqual(plans[0][2].key, plans[1][2].key, "combine reads upper's output, which differs")
        var forecast = SweepForecast(jobs: 2)
        XCTAssertEqual(try f.inFolder { try forecast.add("a", runner: runners[0]) }, "a: 3 of 3 stages would run")
        XCTAssertEqual(try f.inFolder { try forecast.add("b", runner: runners[1]) }, "b: 3 of 3 stages would run, 1 of them counted in an earlier run")
        XCTAssertEqual(forecast.summary, "sweep: 2 runs would run 6 stages, 5 distinct (the rest are shared between runs); no time estimate (none of them has run with this cache)")

        _ = try f.run(["noise": "0.2"])
        let ranKey = try XCTUnwrap(try f.inFolder { try f.runner(["noise": "0.2"]).assess() }.first { $0.stage == "combine" })
        XCTAssertEqual(ranKey.state, .fresh)
        // What ran now counts as done; upper at 0.7 reads only existing files: its real key.
        let later = try f.inFolder { try f.runner(["noise": "0.7"]) }
        let projected = try f.inFolder { try later.projectedStale() }
        XCTAssertEqual(projected.map(\.stage), ["upper", "combine"])
        _ = try f.run(["noise": "0.7"])
        let actual = try f.inFolder { try f.runner(["noise": "0.7"]) }
        XCTAssertEqual(actual.store.latestEntry(forStage: "upper")?.key, projected[0].key)

        var timed = SweepForecast(jobs: 1)
        let r05 = try f.inFolder { try f.runner(["noise": "0.5"]) }
        _ = try f.inFolder { try timed.add("c", runner: r05) }
        let seconds = try ["upper", "combine"].map { try XCTUnwrap(r05.store.latestEntry(forStage: $0)?.seconds) }
        XCTAssertEqual(timed.totals.stages, 2)
        XCTAssertEqual(timed.totals.unknown, 0)
        XCTAssertEqual(timed.totals.work, seconds[0] + seconds[1], accuracy: 1e-9)
        XCTAssertTrue(timed.summary.contains(": about ") && timed.summary.hasSuffix(" with -j 1"), timed.summary)
    }

    func testSameSecondEditIsSeen() throws {
        let f = Fixture()
        f.write("x", "aaaa")
        let cache = StatCache(path: f.path + "/sc.json")
        let d1 = try cache.digest(ofPath: f.path + "/x").1
        f.write("x", "bbbb") // same size, within the same second
        let d2 = try cache.digest(ofPath: f.path + "/x").1
        XCTAssertNotEqual(d1, d2)
        XCTAssertEqual(d2, try ContentDigest.file(f.path + "/x"))
    }

    func testUntilRunsOnlyTheStageAndWhatItNeeds() throws {
        let f = Fixture()
        makeChain(f)
        let s = try f.run([:], RunOptions(until: "upper"))
        XCTAssertEqual(s.ran, ["upper"])
        XCTAssertEqual(f.read("Data/runs/latest/upper/txt"), "hello 0.2\n")
        XCTAssertEqual(try f.run().ran, ["other", "combine"])
        XCTAssertThrowsError(try f.run([:], RunOptions(until: "nope")))
    }
}
