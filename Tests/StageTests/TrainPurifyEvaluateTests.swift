import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// The training, purification and evaluation executables, end to end on a tiny experiment.
final class TrainPurifyEvaluateTests: XCTestCase {
    func experiment() throws -> TinyExperiment {
        try TinyExperiment.shared(by: Self.self)
    }

    func testWarmupRoundPurifyEvaluateChainIsDeterministic() throws {
        let e = try experiment()
        try e.warmup("A", out: e.path("wa.tzst"))
        try e.warmup("A", out: e.path("wa2.tzst"))
        XCTAssertEqual(bytes(e.path("wa.tzst")), bytes(e.path("wa2.tzst")), "warm-up is not bit-reproducible")
        try e.warmup("B", out: e.path("wb.tzst"))
        XCTAssertNotEqual(try tensor(e.path("wa.tzst"), "net/img_enc.fc.weight"),
                          try tensor(e.path("wb.tzst"), "net/img_enc.fc.weight"), "nets A and B must start apart")

        let purify = ["--checkpoint", e.path("wa.tzst"), "--net", "A", "--round", "1"] + e.common
        try TinyExperiment.run("mscn-purify", purify + ["--out", e.path("mask.tzst"), "--report", e.path("report.json")])
        let mask = try TensorFiles.readAll(e.path("mask.tzst")).tensors
        let m = try Corpus.load(e.corpus).split("train").captionCount
        XCTAssertEqual(mask[Schema.keep]?.shape, [m])
        let pClean = try XCTUnwrap(mask[Schema.pClean]).floats()
        let keep = try XCTUnwrap(mask[Schema.keep]).uint8s()
        for (p, k) in zip(pClean, keep) { XCTAssertEqual(k == 1, p > 0.5) }
        let report = try json(e.path("report.json"))
        XCTAssertEqual(report["round"] as? Int, 1)
        XCTAssertEqual(report["captions"] as? Int, m)
        XCTAssertNotNil(report["precision"])

        let round = ["--mode", "round", "--net", "B", "--round", "1", "--initial", e.path("wb.tzst"), "--mask", e.path("mask.tzst")]
            + e.common + TinyExperiment.model
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rb.tzst"), "--log", e.path("rb.log")])
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rb2.tzst")])
        XCTAssertEqual(bytes(e.path("rb.tzst")), bytes(e.path("rb2.tzst")), "a round is not bit-reproducible")
        let log = try String(contentsOfFile: e.path("rb.log"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.first, "step\tepoch\tloss\tmeta_loss\tlr\tscore_mean\tmargin_mean")
        XCTAssertGreaterThan(log.count, 1)
        let fields = log[1].split(separator: "\t", omittingEmptySubsequences: false)
        XCTAssertFalse(fields[3].isEmpty, "round steps log a meta loss")
        // Mean score p of the batch's own pairs and the mean margin 0.2·p²/(p²+(1−p)²), in range.
        let p = try XCTUnwrap(Float(fields[5])), margin = try XCTUnwrap(Float(fields[6]))
        XCTAssertTrue(p > 0 && p < 1, "score_mean \(p)")
        XCTAssertTrue(margin > 0 && margin < 0.2, "margin_mean \(margin)")

        let r = try TinyExperiment.run("mscn-evaluate", ["--ckpt-a", e.path("wa.tzst"), "--ckpt-b", e.path("rb.tzst"),
                                                         "--features", e.features("test"), "--corpus", e.corpus, "--split", "test",
                                                         "--out", e.path("metrics.json"), "--scores", e.path("scores.tzst"),
                                                         "--image-shard", "4", "--caption-shard", "7"])
        let metrics = try json(e.path("metrics.json"))
        let keys = ["i2t_r1", "i2t_r5", "i2t_r10", "i2t_medr", "i2t_meanr", "t2i_r1", "t2i_r5", "t2i_r10", "t2i_medr", "t2i_meanr", "rsum"]
        XCTAssertEqual(Set(metrics.keys), Set(keys))
        let sum = ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"].compactMap { metrics[$0] as? Double }.reduce(0, +)
        XCTAssertEqual(metrics["rsum"] as? Double ?? -1, sum, accuracy: 1e-9)
        XCTAssertTrue(r.stdout.contains("rsum") || r.stdout.contains("rSum"), "prints a readable table")
        XCTAssertEqual(try TensorFileReader(path: e.path("scores.tzst")).info("scores").shape, [6, 30])

        // Shard sizes change nothing but rounding: a caption shard is padded to its own longest
        // caption and the products change shape with the shard, which may move a score by an ulp
        // (seen with the weights of the exact meta-gradient: 0.521185 vs 0.5211849).
        try TinyExperiment.run("mscn-evaluate", ["--ckpt-a", e.path("wa.tzst"), "--ckpt-b", e.path("rb.tzst"),
                                                 "--features", e.features("test"), "--corpus", e.corpus,
                                                 "--out", e.path("metrics2.json"), "--scores", e.path("scores2.tzst")])
        let sharded = try tensor(e.path("scores.tzst"), "scores"), whole = try tensor(e.path("scores2.tzst"), "scores")
        XCTAssertEqual(sharded.count, whole.count)
        for (a, b) in zip(sharded, whole) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    /// `--batch-plan-out` writes the round's plan and changes no output byte; the plan is the
    /// kept captions in batches (each with its noisy image) and one meta batch per step, cycled.
    func testBatchPlanOutChangesNothingAndListsTheRoundsBatches() throws {
        let e = try experiment()
        try e.warmup("A", out: e.path("wa-plan.tzst"))
        try e.warmup("B", out: e.path("wb-plan.tzst"))
        try TinyExperiment.run("mscn-purify", ["--checkpoint", e.path("wa-plan.tzst"), "--net", "A", "--round", "1"] + e.common
                               + ["--out", e.path("mask-plan.tzst"), "--report", e.path("report-plan.json")])
        let round = ["--mode", "round", "--net", "B", "--round", "1", "--initial", e.path("wb-plan.tzst"),
                     "--mask", e.path("mask-plan.tzst")] + e.common + TinyExperiment.model
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rp1.tzst"), "--log", e.path("rp1.log")])
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rp2.tzst"), "--log", e.path("rp2.log"),
                                                      "--batch-plan-out", e.path("plan.json")])
        XCTAssertEqual(bytes(e.path("rp1.tzst")), bytes(e.path("rp2.tzst")), "--batch-plan-out changed the checkpoint")
        XCTAssertEqual(bytes(e.path("rp1.log")), bytes(e.path("rp2.log")), "--batch-plan-out changed the log")

        let plan = try json(e.path("plan.json"))
        XCTAssertEqual(plan["format"] as? String, "mscn-round-plan/1")
        XCTAssertEqual(plan["net"] as? String, "B")
        XCTAssertEqual(plan["round"] as? Int, 1)
        let keep = try TensorFileReader(path: e.path("mask-plan.tzst")).read(Schema.keep).uint8s()
        let kept = keep.indices.filter { keep[$0] != 0 }
        XCTAssertEqual(plan["captions"] as? [Int], kept)
        let imageOf = try NoisyMap.load(e.noise).imageOfCaption.map(Int.init)
        let steps = try XCTUnwrap(plan["steps"] as? [[String: Any]])
        let logLines = try String(contentsOfFile: e.path("rp1.log"), encoding: .utf8).split(separator: "\n").count - 1
        XCTAssertEqual(steps.count, logLines, "one plan step per logged step")
        var seen: [Int] = []
        for st in steps {
            let c = try XCTUnwrap(st["captions"] as? [Int]), i = try XCTUnwrap(st["images"] as? [Int])
            XCTAssertEqual(i, c.map { imageOf[$0] })
            XCTAssertLessThanOrEqual(c.count, 16)
            seen += c
        }
        // Every kept caption once (a final batch of one is not trained).
        XCTAssertEqual(seen.count, kept.count - (kept.count % 16 == 1 ? 1 : 0))
        XCTAssertEqual(Set(seen).count, seen.count)
        XCTAssertTrue(Set(seen).isSubset(of: Set(kept)))
        let pairs = try XCTUnwrap(plan["meta_pairs"] as? [[Double]])
        let positives = try XCTUnwrap(plan["meta_positives"] as? Int)
        XCTAssertEqual(pairs.count, 2 * positives)
        XCTAssertTrue(pairs.prefix(positives).allSatisfy { $0[3] == 1 } && pairs.dropFirst(positives).allSatisfy { $0[3] == 0 })
        let meta = try steps.map { try XCTUnwrap($0["meta"] as? [Int]) }
        let perPass = stride(from: 0, to: pairs.count, by: 16).filter { pairs.count - $0 >= 2 }.count
        XCTAssertEqual(meta.prefix(perPass).flatMap { $0 }.count, pairs.count - (pairs.count % 16 == 1 ? 1 : 0))
        for (k, m) in meta.enumerated() { XCTAssertEqual(m, meta[k % perPass], "meta batches cycle") }

        // A round whose checkpoint cannot be written leaves no plan behind either.
        let failed = try runProduct("mscn-train", round + ["--out", e.path("no-such-folder/rp3.tzst"),
                                                           "--batch-plan-out", e.path("plan-of-failed.json")])
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertTrue(failed.stderr.contains("no-such-folder/rp3.tzst"), failed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("plan-of-failed.json")))

        let r = try runProduct("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model
                                             + ["--out", e.path("never-plan.tzst"), "--batch-plan-out", e.path("p.json")])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--batch-plan-out"), r.stderr)
    }

    /// `--round-dropout` at the checkpoint's own rate changes nothing (weights, Adam states and the
    /// dropout stream carry over); at 0 the round trains without dropout.
    func testRoundDropoutOverridesOnlyTheRate() throws {
        let e = try experiment()
        try e.warmup("B", out: e.path("wb-drop.tzst"))
        let round = ["--mode", "round", "--net", "B", "--round", "2", "--initial", e.path("wb-drop.tzst")]
            + e.common + TinyExperiment.model
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rd.tzst"), "--log", e.path("rd.log")])
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rd04.tzst"), "--log", e.path("rd04.log"), "--round-dropout", "0.4"])
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("rd0.tzst"), "--log", e.path("rd0.log"), "--round-dropout", "0"])
        XCTAssertEqual(bytes(e.path("rd.log")), bytes(e.path("rd04.log")), "--round-dropout 0.4 (the checkpoint's rate) changed the round")
        XCTAssertEqual(try tensor(e.path("rd.tzst"), "net/img_enc.fc.weight"), try tensor(e.path("rd04.tzst"), "net/img_enc.fc.weight"))
        XCTAssertNotEqual(bytes(e.path("rd.log")), bytes(e.path("rd0.log")), "--round-dropout 0 trained as with dropout")
        let r = try runProduct("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model
                                             + ["--out", e.path("never-drop.tzst"), "--round-dropout", "0"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--round-dropout"), r.stderr)
    }

    func testMasksThatCannotTrainAreRefused() throws {
        let e = try experiment()
        try e.warmup("B", out: e.path("wb-mask.tzst"))
        /// A round of net B with `keep` as its mask must fail, naming the mask and `expected`, and write nothing.
        func refused(_ name: String, keep: [UInt8], saying expected: String) throws {
            try TensorFiles.write(e.path(name), [StoredTensor(name: Schema.keep, shape: [keep.count], uint8s: keep)])
            let r = try runProduct("mscn-train", ["--mode", "round", "--net", "B", "--initial", e.path("wb-mask.tzst"),
                                                  "--mask", e.path(name)] + e.common + TinyExperiment.model
                                                 + ["--out", e.path("never.tzst")])
            XCTAssertEqual(r.status, 1)
            XCTAssertTrue(r.stderr.contains(name) && r.stderr.contains(expected), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never.tzst")))
        }
        try refused("short-mask.tzst", keep: [1, 1, 1], saying: "entries")
        // One caption kept cuts no batch (a batch needs a negative); the error used to say none was kept.
        let trainKeep = try MetaSplit.load(e.meta).trainKeep
        let first = try XCTUnwrap(trainKeep.firstIndex(of: 1))
        try refused("one-mask.tzst", keep: trainKeep.indices.map { UInt8($0 == first ? 1 : 0) }, saying: "keeps 1 training caption")
    }

    func testCheckpointOfAnotherConfigurationIsRefused() throws {
        let e = try experiment()
        // Features of another dimension stand in for data the checkpoint was not trained on.
        try TinyExperiment.run("mscn-features", ["--images", e.path("data/images-train.tzst"), "--out", e.path("f40.tzst"), "--dim", "40"])
        try e.warmup("A", out: e.path("wa-conf.tzst"))
        var args = ["--checkpoint", e.path("wa-conf.tzst")] + e.common + ["--out", e.path("m.tzst"), "--report", e.path("r.json")]
        try TinyExperiment.run("mscn-features", ["--images", e.path("data/images-dev.tzst"), "--out", e.path("f40-dev.tzst"), "--dim", "40"])
        args = args.map { $0 == e.features("train") ? e.path("f40.tzst") : $0 == e.features("dev") ? e.path("f40-dev.tzst") : $0 }
        let r = try runProduct("mscn-purify", args)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("wa-conf.tzst") && r.stderr.contains("checkpoint"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("m.tzst")))
    }

    func testEmptyMetaSetIsRefused() throws {
        let e = try experiment()
        try MetaSplit(source: [], caption: [], image: [], trainKeep: [], devSelect: []).save(e.path("empty-meta.tzst"))
        var args = ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model + ["--out", e.path("x.tzst")]
        args = args.map { $0 == e.meta ? e.path("empty-meta.tzst") : $0 }
        let r = try runProduct("mscn-train", args)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("empty-meta.tzst") && r.stderr.contains("empty"), r.stderr)
    }

    func testMissingCheckpointNamesTheFile() throws {
        let e = try experiment()
        let r = try runProduct("mscn-evaluate", ["--ckpt-a", e.path("nope.tzst"), "--features", e.features("test"),
                                                 "--corpus", e.corpus, "--out", e.path("m.json")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("nope.tzst"), r.stderr)
    }

    /// Dev and test have six images each here: the other split's features would be scored without
    /// any error, so a file whose metadata names another split is refused, by name.
    func testAnotherSplitsFeaturesAreRefused() throws {
        let e = try experiment()
        try e.warmup("A", out: e.path("wa-split.tzst"))
        let r = try runProduct("mscn-evaluate", ["--ckpt-a", e.path("wa-split.tzst"), "--features", e.features("test"),
                                                 "--corpus", e.corpus, "--split", "dev", "--out", e.path("dev-from-test.json")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("features-test.tzst") && r.stderr.contains("the test split's features"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("dev-from-test.json")))

        var args = ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model + ["--out", e.path("never-split.tzst")]
        args = args.map { $0 == e.features("dev") ? e.features("test") : $0 }
        let t = try runProduct("mscn-train", args)
        XCTAssertEqual(t.status, 1)
        XCTAssertTrue(t.stderr.contains("features-test.tzst") && t.stderr.contains("the dev split's are expected"), t.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never-split.tzst")))
    }

    private func bytes(_ p: String) -> Data? { FileManager.default.contents(atPath: p) }
    private func tensor(_ p: String, _ name: String) throws -> [Float] { try TensorFileReader(path: p).read(name).floats() }
    private func json(_ p: String) throws -> [String: Any] {
        let d = try XCTUnwrap(FileManager.default.contents(atPath: p))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: d) as? [String: Any])
    }
}
