import Pipeline
import TestSupport
import XCTest

/// The shipped pipelines plan as the layouts need: the data's own meta split only with
/// meta_rule=given, the COCO fold metric with meta_rule=coco.
final class ShippedPipelineTests: XCTestCase {
    func plan(_ name: String, _ overrides: [(String, String)]) throws -> Plan {
        let path = TestPaths.packageRoot.appendingPathComponent("Pipelines/\(name)").path
        return try Plan(file: try PipelineFile.load(path: path), overrides: [("data", "/data/x"), ("layout", "precomp")] + overrides)
    }

    func stage(_ plan: Plan, _ name: String) throws -> StageInstance {
        try XCTUnwrap(plan.stages.first { $0.name == name }, name)
    }

    func testMetaFeaturesOnlyForTheGivenRule() throws {
        for file in ["mscn.yaml", "baseline.yaml", "standard.yaml", "oracle.yaml"] {
            let given = try plan(file, [("meta_rule", "given")])
            let warmup = try stage(given, "warmup_a@1")
            XCTAssertTrue(warmup.words.contains([.text("--meta-features")]), file)
            XCTAssertTrue(warmup.words.contains([.ref(stage: "features_meta", output: "features")]), file)
            XCTAssertTrue(try given.needed().map { given.stages[$0].name }.contains("features_meta"), file)

            let flickr = try plan(file, [])
            XCTAssertFalse(try stage(flickr, "warmup_a@1").words.contains([.text("--meta-features")]), file)
            XCTAssertFalse(try flickr.needed().map { flickr.stages[$0].name }.contains("features_meta"), file)
            XCTAssertEqual(try stage(flickr, "warmup_a@1").words, try stage(try plan(file, [("meta_rule", "coco")]), "warmup_a@1").words,
                           "\(file): the rule reaches training only through the meta split")
        }
    }

    /// The warm-up extension (not in the reference) reaches the last warm-up epoch stage only when
    /// asked, and `--auc-of` only when it names the meta AUC: otherwise the commands are the old ones.
    func testWarmupExtensionOnlyWhenAskedAndAUCOfOnlyForMeta() throws {
        let plain = try plan("mscn.yaml", [])
        let labels = try plan("mscn.yaml", [("warmup_until_auc", "0.97")])
        let meta = try plan("mscn.yaml", [("warmup_until_auc", "0.97"), ("warmup_auc_of", "meta")])
        for net in ["a", "b"] {
            let last = "warmup_\(net)@5", before = "warmup_\(net)@4"   // precomp: 5 warm-up epochs
            XCTAssertFalse(try stage(plain, last).words.contains([.text("--extend-until-auc")]))
            XCTAssertEqual(try stage(plan("mscn.yaml", [("warmup_auc_of", "meta")]), last).words, try stage(plain, last).words,
                           "warmup_auc_of alone changes nothing")
            XCTAssertEqual(try stage(labels, before).words, try stage(plain, before).words)
            let l = try stage(labels, last).words
            XCTAssertTrue(l.contains([.text("--extend-until-auc")]) && l.contains([.text("0.97")]), "\(l)")
            XCTAssertFalse(l.contains([.text("--auc-of")]), "labels is mscn-train's default")
            let m = try stage(meta, last).words
            XCTAssertEqual(m.filter { !l.contains($0) }, [[.text("--auc-of")], [.text("meta")]])
        }
    }

    /// The comparison rows reuse MSCN's cached warm-ups (the oracle's are its own: clean pairs only).
    func testStandardAndBaselineShareMSCNsWarmups() throws {
        let mscn = try plan("mscn.yaml", [])
        for file in ["baseline.yaml", "standard.yaml"] {
            let other = try plan(file, [])
            for name in ["warmup_a@1", "warmup_b@1"] {
                XCTAssertEqual(try stage(other, name).words, try stage(mscn, name).words, "\(file) \(name)")
            }
        }
        XCTAssertNotEqual(try stage(try plan("oracle.yaml", []), "warmup_a@1").words, try stage(mscn, "warmup_a@1").words)
    }

    /// At noise 0 the oracle's pairs are all pairs: its stages are the standard pipeline's, word
    /// for word, so they share its cache; at any other noise they train on the clean pairs only.
    func testOracleIsTheStandardRunAtNoiseZero() throws {
        for zero in ["0", "0.0"] {
            let oracle = try plan("oracle.yaml", [("noise", zero)]), standard = try plan("standard.yaml", [("noise", zero)])
            for (o, s) in [("warmup_a@1", "warmup_a@1"), ("warmup_b@3", "warmup_b@3"), ("oracle_a@1", "std_a@1"), ("oracle_b@1", "std_b@1")] {
                XCTAssertEqual(try stage(oracle, o).words, try stage(standard, s).words, "noise \(zero): \(o)")
            }
        }
        let noisy = try plan("oracle.yaml", [("noise", "0.2")])
        for name in ["warmup_a@1", "warmup_b@1", "oracle_a@1", "oracle_b@2"] {
            XCTAssertTrue(try stage(noisy, name).words.contains([.text("--clean-only")]), name)
        }
    }

    /// The stages they share have equal keys only if the four ask for the same environment; the
    /// published numbers were made with OpenBLAS's Haswell kernels.
    func testAllFourPinTheSameBLASKernel() throws {
        for file in ["mscn.yaml", "baseline.yaml", "standard.yaml", "oracle.yaml"] {
            let env = try plan(file, []).file.environment
            XCTAssertEqual(env.map(\.name), ["OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT"], file)
            XCTAssertEqual(env.map(\.value), ["Haswell", "12"], file)
            // Only the kernel decides results: the published keys hold no thread timeout.
            let resolved = StageEnvironment.resolve(declared: env, process: [:], cpuFlags: nil)
            XCTAssertEqual(resolved.keyed, ["OPENBLAS_CORETYPE": "Haswell"], file)
        }
    }

    /// One thread per warm-up process is an option: by default the warm-ups set only the
    /// speed-only serial replay, so their keys (and results) stay those of the published runs.
    func testWarmupThreadsOnlyWhenAsked() throws {
        for file in ["mscn.yaml", "baseline.yaml", "standard.yaml", "oracle.yaml"] {
            for name in ["warmup_a@1", "warmup_b@3"] {
                let plain = try stage(try plan(file, []), name).environment
                XCTAssertEqual(plain.map(\.name), ["MSCN_SERIAL_BLAS"], "\(file) \(name)")
                let keyed = StageEnvironment.resolve(declared: plain, process: [:], cpuFlags: nil).keyed
                XCTAssertEqual(keyed, [:], "\(file) \(name): nothing that decides results")
                let one = try stage(try plan(file, [("warmup_threads", "1")]), name).environment
                XCTAssertEqual(one.map(\.name), ["MSCN_THREADS", "MSCN_SERIAL_BLAS"], "\(file) \(name)")
                XCTAssertEqual(one.map(\.value), ["1", "1"], "\(file) \(name)")
            }
            XCTAssertTrue(try stage(try plan(file, [("warmup_threads", "1")]), "evaluate_test").environment.isEmpty, file)
        }
    }

    /// The training stages ask for the serial replay (the paired ones gain most); evaluation, which
    /// did not gain, keeps OpenBLAS's own threads, and purification does at the reference sizes.
    func testTrainingStagesAskForTheSerialReplay() throws {
        let training = ["mscn.yaml": ["warmup_a@2", "warmup_b@2", "train_a@1", "train_b@2"],
                        "baseline.yaml": ["plain_a@1", "plain_b@2"], "standard.yaml": ["std_a@1", "std_b@2"],
                        "oracle.yaml": ["oracle_a@1", "oracle_b@2"]]
        for (file, names) in training {
            for name in names {
                let env = try stage(try plan(file, []), name).environment
                XCTAssertEqual(env.map(\.name), ["MSCN_SERIAL_BLAS"], "\(file) \(name)")
                XCTAssertEqual(env.map(\.value), ["1"], "\(file) \(name)")
            }
        }
        for name in ["evaluate_dev@1", "evaluate_test"] {
            XCTAssertTrue(try stage(try plan("mscn.yaml", []), name).environment.isEmpty, name)
        }
        // Purification replays only at the built-in sizes, where it runs beside a dev evaluation.
        for name in ["purify_a@1", "purify_b@2"] {
            XCTAssertTrue(try stage(try plan("mscn.yaml", []), name).environment.isEmpty, "precomp: \(name)")
            let images = try stage(try plan("mscn.yaml", [("layout", "images"), ("data", "builtin")]), name).environment
            XCTAssertEqual(images.map(\.name), ["MSCN_SERIAL_BLAS"], "images: \(name)")
            XCTAssertEqual(images.map(\.value), ["1"], "images: \(name)")
        }
    }

    /// Only the side branches that the end of a run waits for (dev evaluations, regime checks) run
    /// in the background; every stage a later round needs keeps its priority.
    func testOnlySideBranchesRunInTheBackground() throws {
        let side = ["evaluate_dev@0", "evaluate_dev@2", "regime_a@5", "regime_b@5"]
        let chains = ["mscn.yaml": ["warmup_a@1", "warmup_b@5", "purify_a@1", "train_b@1", "purify_b@2", "train_a@2"],
                      "baseline.yaml": ["warmup_a@1", "plain_a@1", "plain_b@2"], "standard.yaml": ["std_a@1", "std_b@2"],
                      "oracle.yaml": ["oracle_a@1", "oracle_b@2"]]
        for (file, chain) in chains {
            let p = try plan(file, [])
            for name in side { XCTAssertTrue(try stage(p, name).background, "\(file) \(name)") }
            for name in chain + ["select", "evaluate_test", "report", "features_train"] {
                XCTAssertFalse(try stage(p, name).background, "\(file) \(name)")
            }
        }
    }

    func testCOCORuleEvaluatesFoldsOfAThousandByDefault() throws {
        for file in ["mscn.yaml", "baseline.yaml", "standard.yaml", "oracle.yaml"] {
            func folds(_ overrides: [(String, String)]) throws -> [Piece]? {
                let words = try stage(try plan(file, overrides), "evaluate_test").words
                guard let i = words.firstIndex(of: [.text("--folds")]), i + 1 < words.count else { return nil }
                return words[i + 1]
            }
            XCTAssertEqual(try folds([("meta_rule", "coco")]), [.text("1000")], file)
            XCTAssertEqual(try folds([("meta_rule", "coco"), ("folds", "100")]), [.text("100")], file)
            XCTAssertEqual(try folds([]), [.text("0")], file)
        }
    }
}
