import XCTest
@testable import Pipeline

/// Parsing, substitution and expansion: no process is run here.
final class PlanTests: XCTestCase {
    let yaml = """
        name: demo
        params: {epochs: 3, noise: 0.2, data: "${dataset.root}"}
        stages:
          dataset:
            on_demand: true
            command: gen --out ${out.root}
            outputs: {root: dir}
          warmup:
            command: train --data ${data} --out ${out.ckpt}
            outputs: {ckpt: file}
          train:
            foreach: {round: "1..${epochs}"}
            command: >-
              train --noise ${noise} --init ${round == 1 ? warmup.ckpt : train@${round-1}.ckpt}
              --out ${out.ckpt} --tag 'round ${round}'
            outputs: {ckpt: file}
          select:
            command: select ${train@*.ckpt}
        publish: {best: "${train@3.ckpt}"}
        """

    func testRangeExpansionNamesDependenciesAndConditional() throws {
        let plan = try Plan(file: try PipelineFile.parse(yaml: yaml, source: "demo.yaml"), overrides: [])
        XCTAssertEqual(plan.stages.map(\.name), ["dataset", "warmup", "train@1", "train@2", "train@3", "select"])
        XCTAssertEqual(plan.families["train"], ["train@1", "train@2", "train@3"])
        let t1 = try XCTUnwrap(plan.stages.first { $0.name == "train@1" })
        let t3 = try XCTUnwrap(plan.stages.first { $0.name == "train@3" })
        XCTAssertEqual(t1.dependencies, ["warmup"])
        XCTAssertEqual(t3.dependencies, ["train@2"])
        XCTAssertEqual(t3.usedParams, ["noise"])
        XCTAssertTrue(t3.words.contains([.text("round 3")]), "quoted word with substitution stays one word")
        XCTAssertEqual(t3.words[4], [.ref(stage: "train@2", output: "ckpt")])
        let select = try XCTUnwrap(plan.stages.last)
        XCTAssertEqual(select.words[1], [.list(family: "train", output: "ckpt")])
        XCTAssertEqual(select.dependencies, ["train@1", "train@2", "train@3"])
        XCTAssertEqual(plan.publish.first?.stage, "train@3")
        // The parameter default reads the on-demand stage, so warmup depends on it.
        XCTAssertEqual(plan.stages[1].dependencies, ["dataset"])
    }

    /// Decimal parameters compare as numbers (the sweep writes noise 0.0, a user may write 0);
    /// other words compare as text.
    func testDecimalNumbersCompareNumerically() throws {
        let yaml = """
            name: cmp
            params: {noise: "0.0", tag: nan}
            stages:
              s: {command: "run ${noise == 0 ? 'zero' : 'noisy'} ${noise < 0.5 ? 'low' : 'high'} ${tag == 'nan' ? 'text' : 'number'}"}
            """
        for (noise, words) in [("0.0", ["zero", "low"]), ("0", ["zero", "low"]), ("0.70", ["noisy", "high"]), ("-1", ["noisy", "low"])] {
            let plan = try Plan(file: try PipelineFile.parse(yaml: yaml, source: "cmp.yaml"), overrides: [("noise", noise)])
            let s = try XCTUnwrap(plan.stages.first)
            XCTAssertEqual(s.words, [[.text("run")]] + words.map { [.text($0)] } + [[.text("text")]], "noise \(noise)")
        }
        let bad = """
            name: cmp
            params: {tag: nan}
            stages:
              s: {command: "run ${tag < 1 ? 'a' : 'b'}"}
            """
        XCTAssertThrowsError(try Plan(file: try PipelineFile.parse(yaml: bad, source: "bad.yaml"), overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("compares numbers only"), "\(e)")
        }
    }

    func testOverridesChangeRangeAndDropOnDemandStage() throws {
        let file = try PipelineFile.parse(yaml: yaml, source: "demo.yaml")
        let plan = try Plan(file: file, overrides: [("epochs", "5"), ("data", "/somewhere")])
        XCTAssertEqual(plan.families["train"]?.count, 5)
        let needed = try plan.needed().map { plan.stages[$0].name }
        XCTAssertFalse(needed.contains("dataset"), "on-demand stage nobody references must not be needed")
        let withDefault = try Plan(file: file, overrides: [])
        XCTAssertTrue(try withDefault.needed().map { withDefault.stages[$0].name }.contains("dataset"))
        XCTAssertEqual(try plan.needed(until: "train@2").map { plan.stages[$0].name }, ["warmup", "train@1", "train@2"])
        XCTAssertThrowsError(try Plan(file: file, overrides: [("nosie", "1")])) { e in
            XCTAssertTrue("\(e)".contains("unknown parameter 'nosie'"), "\(e)")
        }
        XCTAssertThrowsError(try Plan(file: file, overrides: [("epochs", "2")])) { e in
            XCTAssertTrue("\(e)".contains("publish 'best'") && "\(e)".contains("no stage named 'train@3'"), "\(e)")
        }
        let unpublished = try PipelineFile.parse(yaml: yaml.replacingOccurrences(of: "publish: {best: \"${train@3.ckpt}\"}", with: ""),
                                                 source: "demo.yaml")
        let empty = try Plan(file: unpublished, overrides: [("epochs", "0"), ("data", "/x")])
        XCTAssertEqual(empty.families["train"], [], "an empty range makes no instances")
        XCTAssertEqual(empty.stages.last?.dependencies, [], "an empty @* list reads nothing")
    }

    func testCommandSplittingHonoursQuotesEscapesAndBraces() throws {
        XCTAssertEqual(try CommandWords.split(#"a "b c" 'd e' f\ g ${x ? 'p q' : r}"#),
                       ["a", "b c", "d e", "f g", "${x ? 'p q' : r}"])
        XCTAssertThrowsError(try CommandWords.split("a 'b"))
        XCTAssertThrowsError(try CommandWords.split("a ${b"))
    }

    /// No stages, a range that runs backwards (epochs=-3) or one of millions of stages (a typo
    /// that kept `status` busy for hours) are errors; A..A-1 is the empty range.
    func testEmptyPipelinesAndNonsenseRangesAreErrors() throws {
        XCTAssertThrowsError(try PipelineFile.parse(yaml: "name: d\nstages: {}", source: "empty.yaml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("empty.yaml:") && "\(e)".contains("'stages' is empty"), "\(e)")
        }
        let yaml = """
            name: r
            params: {n: 3}
            stages:
              r: {foreach: {round: "1..${n}"}, command: "run ${round} ${out.x}", outputs: {x: file}}
            """
        let file = try PipelineFile.parse(yaml: yaml, source: "r.yaml")
        XCTAssertEqual(try Plan(file: file, overrides: [("n", "0")]).stages.count, 0)
        XCTAssertThrowsError(try Plan(file: file, overrides: [("n", "-3")])) { e in
            XCTAssertTrue("\(e)".contains("stage 'r': foreach range '1..-3' runs backwards"), "\(e)")
        }
        XCTAssertThrowsError(try Plan(file: file, overrides: [("n", "100000000")])) { e in
            XCTAssertTrue("\(e)".contains("makes 100000000 stages, more than 10000"), "\(e)")
        }
    }

    func testErrorsNameFileLineAndProblem() throws {
        let bad = """
            name: demo
            stages:
              a:
                command: run ${out.x}
                outputs: {x: fil}
            """
        XCTAssertThrowsError(try PipelineFile.parse(yaml: bad, source: "bad.yaml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("bad.yaml:5:"), "\(e)")
            XCTAssertTrue("\(e)".contains("'file' or 'dir'"), "\(e)")
        }
        XCTAssertNoThrow(try PipelineFile.parse(yaml: "name: d\nstages:\n  a: {command: run, outputs: {log: file, ckpt.tsr: file}}", source: "ok.yaml"))
        XCTAssertThrowsError(try PipelineFile.parse(yaml: "name: d\nstages:\n  a: {command: run, outputs: {stage.log: file}}", source: "r.yaml"))
        let unknownRef = """
            name: demo
            stages:
              a:
                command: run ${b.x}
            """
        XCTAssertThrowsError(try Plan(file: try PipelineFile.parse(yaml: unknownRef, source: "u.yaml"), overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("no stage named 'b'"), "\(e)")
        }
        let cycle = """
            name: demo
            stages:
              a: {command: "run ${b.x} ${out.x}", outputs: {x: file}}
              b: {command: "run ${a.x} ${out.x}", outputs: {x: file}}
            """
        XCTAssertThrowsError(try Plan(file: try PipelineFile.parse(yaml: cycle, source: "c.yaml"), overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("cycle"), "\(e)")
        }
        let paramCycle = """
            name: demo
            params: {a: "${b}", b: "${a}"}
            stages:
              s: {command: "run ${a}"}
            """
        XCTAssertThrowsError(try Plan(file: try PipelineFile.parse(yaml: paramCycle, source: "c.yaml"), overrides: [])) { e in
            XCTAssertTrue("\(e)".contains("parameter cycle"), "\(e)")
        }
    }

    /// Other stages' outputs are keyed by content: the same command on the same content is one
    /// stage whatever the producing stages are called; other content is another.
    func testStageOutputsEnterTheKeyByContentNotByName() {
        let r = KeyRecord(command: ["x", "--init=${oracle_a@1.ckpt}", "${data.features}"], executableDigest: "e", executablePath: "/p",
                          inputs: ["oracle_a@1.ckpt": "d1", "data.features": "d2", "/ext/file": "d3"], outputs: ["o": .file], params: [:])
        let renamed = KeyRecord(command: ["x", "--init=${std_a@1.ckpt}", "${data.features}"], executableDigest: "e", executablePath: "/p",
                                inputs: ["std_a@1.ckpt": "d1", "data.features": "d2", "/ext/file": "d3"], outputs: ["o": .file], params: [:])
        XCTAssertEqual(r.key, renamed.key)
        var other = renamed
        other.inputs["std_a@1.ckpt"] = "d9"
        XCTAssertNotEqual(r.key, other.key)
        var swapped = renamed
        swapped.command = ["x", "--init=${data.features}", "${std_a@1.ckpt}"]
        XCTAssertNotEqual(r.key, swapped.key, "which content goes where is part of the key")
        var external = renamed
        external.inputs["/ext/other"] = external.inputs.removeValue(forKey: "/ext/file")
        XCTAssertNotEqual(r.key, external.key, "external inputs stay keyed by their path")
        XCTAssertEqual(renamed.differences(from: r).count, 3, "explain still names the stages")
    }

    func testKeyCoversCommandBinaryInputsButNotInformationalFields() {
        let r = KeyRecord(command: ["x", "${a.b}"], executableDigest: "e", executablePath: "/p", inputs: ["a.b": "1"],
                          outputs: ["o": .file], params: ["n": "1"])
        var moved = r
        moved.executablePath = "/q"
        moved.params = ["n": "2"]
        XCTAssertEqual(r.key, moved.key)
        for change in [{ (k: inout KeyRecord) in k.command[0] = "y" }, { $0.executableDigest = "f" },
                       { $0.inputs["a.b"] = "2" }, { $0.outputs["o"] = .dir }] {
            var c = r
            change(&c)
            XCTAssertNotEqual(c.key, r.key)
        }
        var p = r
        p.params["n"] = "0.7"
        p.inputs["a.b"] = "3"
        XCTAssertEqual(p.differences(from: r), ["param n: 1 → 0.7", "input a.b: 1 → 3"])
    }

    func testTextConditionPicksBuiltinStageOrExternalPath() throws {
        let file = try PipelineFile.parse(yaml: """
            name: demo
            params: {data: builtin}
            stages:
              dataset: {on_demand: true, command: "gen ${out.root}", outputs: {root: dir}}
              ingest: {command: "ingest ${data == 'builtin' ? '--fast' : ''} '' --root ${data == 'builtin' ? dataset.root : data}"}
            """, source: "d.yaml")
        let builtin = try Plan(file: file, overrides: [])
        XCTAssertEqual(builtin.stages.last?.words.last, [.ref(stage: "dataset", output: "root")])
        XCTAssertEqual(try builtin.needed().count, 2)
        let external = try Plan(file: file, overrides: [("data", "/data/f30k")])
        XCTAssertEqual(external.stages.last?.words.last, [.text("/data/f30k")])
        XCTAssertEqual(try external.needed().map { external.stages[$0].name }, ["ingest"])
        XCTAssertEqual(builtin.stages.last?.words.count, 5, "'--fast' kept, literal '' kept")
        XCTAssertEqual(external.stages.last?.words.count, 4, "a substituted empty word is dropped")
    }
}
