import Foundation
import XCTest
@testable import Pipeline

/// The pipeline file's `environment:`: defaults for the stages' environment that the runner's
/// own environment overrides, part of every key, passed to local processes and cluster jobs.
final class EnvironmentTests: XCTestCase {
    let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]

    func testFileValuesApplyUnlessTheEnvironmentSetsThem() {
        let declared = [(name: "OPENBLAS_CORETYPE", value: "Haswell"), (name: "OMP_PROC_BIND", value: "close")]
        let fresh = StageEnvironment.resolve(declared: declared, process: ["PATH": "/bin"], cpuFlags: avx2)
        XCTAssertEqual(fresh.values, ["OPENBLAS_CORETYPE": "Haswell", "OMP_PROC_BIND": "close"])
        XCTAssertEqual(fresh.notes, [])

        let same = StageEnvironment.resolve(declared: declared, process: ["OPENBLAS_CORETYPE": "Haswell"], cpuFlags: avx2)
        XCTAssertEqual(same.values["OPENBLAS_CORETYPE"], "Haswell")
        XCTAssertEqual(same.notes, [], "a machine that already sets the pinned value is not warned about")

        let own = StageEnvironment.resolve(declared: declared, process: ["OPENBLAS_CORETYPE": "Zen"], cpuFlags: avx2)
        XCTAssertEqual(own.values["OPENBLAS_CORETYPE"], "Zen", "the machine's own setting is never overridden")
        XCTAssertEqual(own.notes.count, 1)
        XCTAssertTrue(own.notes[0].contains("OPENBLAS_CORETYPE=Zen") && own.notes[0].contains("Haswell"), own.notes[0])
    }

    func testAKernelTheCPUCannotRunIsNotForced() {
        let declared = [(name: "OPENBLAS_CORETYPE", value: "Haswell")]
        let old = StageEnvironment.resolve(declared: declared, process: [:], cpuFlags: ["sse4_2", "avx"])
        XCTAssertEqual(old.values, [:])
        XCTAssertEqual(old.notes.count, 1)
        XCTAssertTrue(old.notes[0].contains("lacks avx2, fma"), old.notes[0])
        let arm = StageEnvironment.resolve(declared: declared, process: [:], cpuFlags: [])
        XCTAssertEqual(arm.values, [:], "no x86 flags at all: not an x86 CPU")
        let unknownMachine = StageEnvironment.resolve(declared: declared, process: [:], cpuFlags: nil)
        XCTAssertEqual(unknownMachine.values, ["OPENBLAS_CORETYPE": "Haswell"], "no /proc/cpuinfo: nothing to check against")
        let unlisted = StageEnvironment.resolve(declared: [(name: "OPENBLAS_CORETYPE", value: "Sandybridge")], process: [:], cpuFlags: [])
        XCTAssertEqual(unlisted.values, ["OPENBLAS_CORETYPE": "Sandybridge"], "only listed kernels are checked")
    }

    func testCPUFlagsAreReadFromTheFlagsLine() throws {
        let dir = NSTemporaryDirectory() + "cpuinfo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "processor\t: 0\nvmx flags\t: ept\nflags\t\t: fpu sse avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
            .write(toFile: dir + "/x86", atomically: true, encoding: .utf8)
        XCTAssertEqual(StageEnvironment.machineCPUFlags(cpuinfo: dir + "/x86"), ["fpu", "sse", "avx2", "fma"])
        try "processor\t: 0\nFeatures\t: fp asimd\n".write(toFile: dir + "/arm", atomically: true, encoding: .utf8)
        XCTAssertEqual(StageEnvironment.machineCPUFlags(cpuinfo: dir + "/arm"), [])
        XCTAssertNil(StageEnvironment.machineCPUFlags(cpuinfo: dir + "/missing"))
    }

    func testParsedInOrderAndNamesChecked() throws {
        let file = try PipelineFile.parse(yaml: """
            name: e
            environment: {B_VAR: two, A_VAR: "1"}
            stages:
              s: {command: "x ${out.f}", outputs: {f: file}}
            """, source: "e.yaml")
        XCTAssertEqual(file.environment.map(\.name), ["B_VAR", "A_VAR"])
        XCTAssertEqual(file.environment.map(\.value), ["two", "1"])
        XCTAssertThrowsError(try PipelineFile.parse(yaml: "name: e\nenvironment: {'BAD NAME': x}\nstages:\n  s: {command: x}\n", source: "e.yaml")) {
            XCTAssertTrue("\($0)".contains("e.yaml:2") && "\($0)".contains("'BAD NAME'"), "\($0)")
        }
        XCTAssertThrowsError(try PipelineFile.parse(yaml: "name: e\nenvironment: {A: [1, 2]}\nstages:\n  s: {command: x}\n", source: "e.yaml"))
    }

    /// A stage's own values are templates over the parameters; empty ones set nothing, and the
    /// stage's value of a variable replaces the file's.
    func testStageValuesAreSubstitutedAndOverTheFiles() throws {
        let yaml = """
            name: e
            params: {threads: "", kernel: Zen}
            environment: {OPENBLAS_CORETYPE: Haswell, OTHER: x}
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}, environment: {MSCN_THREADS: "${threads}", OPENBLAS_CORETYPE: "${kernel}"}}
              b: {command: "x ${out.f}", outputs: {f: file}}
            """
        let file = try PipelineFile.parse(yaml: yaml, source: "e.yaml")
        let cache = NSTemporaryDirectory() + "envkey-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let store = try CacheStore(root: cache)
        func env(_ overrides: [(String, String)], _ stage: String) throws -> [String: String] {
            let plan = try Plan(file: file, overrides: overrides)
            let instance = try XCTUnwrap(plan.stages.first { $0.name == stage })
            let keyer = StageKeyer(plan: plan, store: store, toolDirectory: nil, processEnvironment: [:], cpuFlags: nil)
            return keyer.environment(of: instance).values
        }
        XCTAssertEqual(try env([], "a"), ["OPENBLAS_CORETYPE": "Zen", "OTHER": "x"], "empty threads: no MSCN_THREADS")
        XCTAssertEqual(try env([("threads", "1")], "a"), ["OPENBLAS_CORETYPE": "Zen", "OTHER": "x", "MSCN_THREADS": "1"])
        XCTAssertEqual(try env([("threads", "1")], "b"), ["OPENBLAS_CORETYPE": "Haswell", "OTHER": "x"])
        XCTAssertThrowsError(try Plan(file: try PipelineFile.parse(yaml: """
            name: e
            stages:
              a: {command: "x ${out.f}", outputs: {f: file}}
              b: {command: "x ${out.g}", outputs: {g: file}, environment: {V: "${a.f}"}}
            """, source: "e.yaml"), overrides: [])) {
            XCTAssertTrue("\($0)".contains("stage 'b'") && "\($0)".contains("environment V"), "\($0)")
        }
    }

    func testEnvironmentIsPartOfTheKeyOnlyWhenDeclared() {
        let r = KeyRecord(command: ["x"], executableDigest: "e", executablePath: "/p", inputs: [:], outputs: ["o": .file], params: [:])
        var pinned = r
        pinned.environment = ["OPENBLAS_CORETYPE": "Haswell"]
        var other = r
        other.environment = ["OPENBLAS_CORETYPE": "Cooperlake"]
        XCTAssertNotEqual(pinned.key, r.key)
        XCTAssertNotEqual(pinned.key, other.key)
        XCTAssertEqual(other.differences(from: pinned), ["environment OPENBLAS_CORETYPE: Haswell → Cooperlake"])
        var empty = r
        empty.environment = nil
        XCTAssertEqual(empty.key, r.key)
        // Records written before the field existed still decode.
        let old = #"{"format":1,"command":["x"],"executableDigest":"e","executablePath":"/p","inputs":{},"outputs":{"o":"file"},"params":{}}"#
        XCTAssertEqual(try JSONDecoder().decode(KeyRecord.self, from: Data(old.utf8)).key, r.key)
    }

    /// A stage sees the file's value, or the runner's own when it sets one; the two are cached apart.
    func testStagesRunWithTheEnvironmentInEffect() throws {
        let f = Fixture("env")
        f.script("show.sh", #"printf '%s\n' "$MSCN_TEST_KERNEL" > "$1""#)
        _ = f.pipeline("""
            name: env
            environment: {MSCN_TEST_KERNEL: Haswell}
            stages:
              show: {command: "./show.sh ${out.txt}", outputs: {txt: file}}
            publish: {kernel.txt: "${show.txt}"}
            """)
        func runner(_ process: [String: String]) throws -> Runner {
            let plan = try Plan(file: try PipelineFile.load(path: f.path + "/p.yaml"), overrides: [])
            let r = try Runner(plan: plan, dataRoot: f.data, toolDirectory: nil, processEnvironment: process, cpuFlags: nil)
            r.report = { f.lines.append($0) }
            return r
        }
        func run(_ process: [String: String]) throws -> RunSummary { try f.inFolder { try runner(process).run() } }
        XCTAssertEqual(try run([:]).ran, ["show"])
        XCTAssertEqual(f.read("Data/runs/latest/kernel.txt"), "Haswell\n")
        let params = try XCTUnwrap(f.read("Data/runs/latest/params.json"))
        let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(params.utf8)) as? [String: Any])
        XCTAssertEqual(info["environment"] as? [String: String], ["MSCN_TEST_KERNEL": "Haswell"], "the run folder records it")
        XCTAssertEqual(try run([:]).cached, ["show"])

        let why = try f.inFolder { try runner(["MSCN_TEST_KERNEL": "Zen"]).explain("show") }
        XCTAssertTrue(why.contains("environment MSCN_TEST_KERNEL: Haswell → Zen"), why)
        XCTAssertEqual(try run(["MSCN_TEST_KERNEL": "Zen"]).ran, ["show"], "another value is another key")
        XCTAssertEqual(f.read("Data/runs/latest/kernel.txt"), "Zen\n")
        XCTAssertTrue(f.lines.contains { $0.hasPrefix("note: MSCN_TEST_KERNEL=Zen from the environment") }, f.lines.joined(separator: "\n"))
        XCTAssertEqual(try run([:]).cached, ["show"], "the pinned result is still cached")
        XCTAssertEqual(f.read("Data/runs/latest/kernel.txt"), "Haswell\n")
    }

    /// A speed-only variable reaches the stage and the run folder but not the key: setting it,
    /// changing it or dropping it keeps every cached artefact, and overriding it is not warned about.
    func testSpeedOnlyVariablesRunButStayOutOfTheKey() throws {
        let declared = [(name: "OPENBLAS_CORETYPE", value: "Haswell"), (name: "OPENBLAS_THREAD_TIMEOUT", value: "12")]
        let own = StageEnvironment.resolve(declared: declared, process: ["OPENBLAS_THREAD_TIMEOUT": "20"], cpuFlags: nil)
        XCTAssertEqual(own.values, ["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_THREAD_TIMEOUT": "20"])
        XCTAssertEqual(own.keyed, ["OPENBLAS_CORETYPE": "Haswell"])
        XCTAssertEqual(own.notes, [], "a speed setting cannot change a result: nothing to warn about")
        let serial = StageEnvironment.resolve(declared: declared + [(name: "MSCN_SERIAL_BLAS", value: "1")], process: [:], cpuFlags: nil)
        XCTAssertEqual(serial.values["MSCN_SERIAL_BLAS"], "1", "applied to the stage")
        XCTAssertEqual(serial.keyed, ["OPENBLAS_CORETYPE": "Haswell"], "the serial replay is speed only")

        let f = Fixture("speed")
        f.script("show.sh", #"printf '%s\n' "${OPENBLAS_THREAD_TIMEOUT:-unset}" > "$1""#)
        func write(_ environment: String) {
            _ = f.pipeline("""
                name: speed
                \(environment)
                stages:
                  show: {command: "./show.sh ${out.txt}", outputs: {txt: file}}
                publish: {timeout.txt: "${show.txt}"}
                """)
        }
        func run(_ process: [String: String]) throws -> RunSummary {
            try f.inFolder {
                let plan = try Plan(file: try PipelineFile.load(path: f.path + "/p.yaml"), overrides: [])
                return try Runner(plan: plan, dataRoot: f.data, toolDirectory: nil, processEnvironment: process, cpuFlags: nil).run()
            }
        }
        write("environment: {OPENBLAS_THREAD_TIMEOUT: \"12\"}")
        XCTAssertEqual(try run([:]).ran, ["show"])
        XCTAssertEqual(f.read("Data/runs/latest/timeout.txt"), "12\n", "the stage runs with it")
        let params = try XCTUnwrap(f.read("Data/runs/latest/params.json"))
        let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(params.utf8)) as? [String: Any])
        XCTAssertEqual(info["environment"] as? [String: String], ["OPENBLAS_THREAD_TIMEOUT": "12"], "the run folder records it")
        XCTAssertEqual(try run(["OPENBLAS_THREAD_TIMEOUT": "4"]).cached, ["show"], "another value: same key")
        write("environment: {OPENBLAS_THREAD_TIMEOUT: \"16\"}")
        XCTAssertEqual(try run([:]).cached, ["show"])
        write("")
        XCTAssertEqual(try run([:]).cached, ["show"], "a file that declares none keeps the key too")
    }

    func testBatchScriptExportsTheEnvironmentBeforeTheCommand() {
        let launch = StageLaunch(stage: "s", executable: "/opt/bin/x", arguments: ["x"], staging: "/c/tmp/1",
                                 logPath: "/c/logs/s.log", stdoutPath: nil, echo: nil, resources: StageResources(),
                                 workingDirectory: "/w", environment: ["OPENBLAS_CORETYPE": "Haswell", "A": "it's"])
        let script = SlurmJob.script(launch, cacheRoot: "/c", cacheIdentity: "ID")
        XCTAssertTrue(script.contains("\nexport A='it'\\''s'\nexport OPENBLAS_CORETYPE='Haswell'\nexec '/opt/bin/x'"), script)
    }
}
