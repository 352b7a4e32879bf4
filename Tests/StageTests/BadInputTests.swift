import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// Inputs that used to crash a stage, pass silently or leave a finished-looking output behind:
/// each now stops with an error that names the file or option, and writes nothing.
final class BadInputTests: XCTestCase {
    func experiment() throws -> TinyExperiment { try TinyExperiment.shared(by: Self.self) }

    private func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: p) }

    private func expectFailure(_ product: String, _ args: [String], status: Int32 = 1, saying parts: [String],
                               notWritten outputs: [String] = [], line: UInt = #line) throws {
        let r = try runProduct(product, args)
        XCTAssertEqual(r.status, status, "\(product) \(args.joined(separator: " ")): \(r.stderr)", line: line)
        for part in parts { XCTAssertTrue(r.stderr.contains(part), "missing '\(part)' in: \(r.stderr)", line: line) }
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Program crashed"), r.stderr, line: line)
        for o in outputs { XCTAssertFalse(exists(o), "\(o) was left behind", line: line) }
    }

    /// The experiment's noise map with caption `index`'s clean label set to `value`, saved as `name`.
    private func noiseMap(_ e: TinyExperiment, clean value: UInt8, at index: Int, name: String) throws -> String {
        let map = try NoisyMap.load(e.noise)
        var clean = map.clean
        clean[index] = value
        let path = e.path(name)
        try NoisyMap(imageOfCaption: map.imageOfCaption, clean: clean).save(path, metadata: try TensorFileReader(path: e.noise).metadata)
        return path
    }

    /// Sizes of 0 trapped inside the engine; now they are usage errors naming the option.
    func testModelSizesAndLossOptionsAreChecked() throws {
        let e = try experiment()
        let base = ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model
        for (option, value) in [("--embed-size", "0"), ("--sim-dim", "0"), ("--word-dim", "0"), ("--meta-hidden", "0"),
                                ("--dropout", "1.5"), ("--margin", "nan"), ("--grad-clip", "inf"), ("--lr", "inf"),
                                ("--lr-decay-every", "-1")] {
            let out = e.path("sizes\(option).tzst")
            try expectFailure("mscn-train", base + [option, value, "--out", out], status: 64, saying: [option], notWritten: [out])
        }
        let third = e.path("sizes-net-c.tzst")
        try expectFailure("mscn-train", ["--mode", "warmup", "--net", "C"] + e.common + TinyExperiment.model + ["--out", third],
                          status: 64, saying: ["--net is A or B, not C"], notWritten: [third])
    }

    /// A checkpoint whose configuration cannot build a model, or whose weights are NaN.
    func testCheckpointsThatCannotBuildAModelAreRefused() throws {
        let e = try experiment()
        let good = e.path("cfg-good.tzst")
        try e.warmup("A", out: good)
        let (meta, tensors) = try TensorFiles.readAll(good)
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(meta["model_config"]).utf8)) as? [String: Any])
        config["sgrSteps"] = 0
        var broken = meta
        broken["model_config"] = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let zeroSteps = e.path("cfg-sgr0.tzst")
        try TensorFiles.write(zeroSteps, tensors.values.sorted { $0.name < $1.name }, metadata: broken)
        let metrics = e.path("cfg-sgr0.json")
        try expectFailure("mscn-evaluate", ["--ckpt-a", zeroSteps, "--features", e.features("dev"), "--corpus", e.corpus,
                                            "--split", "dev", "--out", metrics],
                          saying: ["cfg-sgr0.tzst", "sgr_step 0"], notWritten: [metrics])

        var later = meta
        later["format"] = "mscn-checkpoint-2"
        let laterPath = e.path("cfg-format2.tzst")
        try TensorFiles.write(laterPath, tensors.values.sorted { $0.name < $1.name }, metadata: later)
        try expectFailure("mscn-evaluate", ["--ckpt-a", laterPath, "--features", e.features("dev"), "--corpus", e.corpus,
                                            "--split", "dev", "--out", metrics],
                          saying: ["cfg-format2.tzst: is a mscn-checkpoint-2 checkpoint; this build reads mscn-checkpoint-1"], notWritten: [metrics])

        var nan = tensors
        var w = try XCTUnwrap(nan["net/img_enc.fc.weight"])
        var values = try w.floats()
        values[3] = .nan
        w = StoredTensor(name: w.name, shape: w.shape, floats: values)
        nan[w.name] = w
        let nanPath = e.path("cfg-nan.tzst")
        try TensorFiles.write(nanPath, nan.values.sorted { $0.name < $1.name }, metadata: meta)
        try expectFailure("mscn-evaluate", ["--ckpt-a", nanPath, "--features", e.features("dev"), "--corpus", e.corpus,
                                            "--split", "dev", "--out", metrics],
                          saying: ["cfg-nan.tzst", "net/img_enc.fc.weight holds nan"], notWritten: [metrics])
    }

    /// NaN features trained a net to NaN with loss 0 and exit 0.
    func testNonFiniteFeaturesAreRefusedByPosition() throws {
        let e = try experiment()
        let reader = try TensorFileReader(path: e.features("train"))
        var f = try reader.read(Schema.features)
        var values = try f.floats()
        let perImage = f.shape[1] * f.shape[2]
        values[2 * perImage + 5 * f.shape[2] + 7] = .infinity
        f = StoredTensor(name: Schema.features, shape: f.shape, floats: values)
        let bad = e.path("features-train-inf.tzst")
        try TensorFiles.write(bad, [f], metadata: reader.metadata)
        let out = e.path("inf.tzst")
        let args = ["--mode", "warmup", "--net", "A"] + e.common.map { $0 == e.features("train") ? bad : $0 } + TinyExperiment.model
        try expectFailure("mscn-train", args + ["--out", out],
                          saying: ["features-train-inf.tzst", "feature inf at image 2, region 5, dimension 7"], notWritten: [out])
    }

    /// A noise map made from another corpus passed every count check; clean labels that
    /// contradict the map made every precision figure wrong.
    func testNoiseMapsOfAnotherCorpusOrWithFalseLabelsAreRefused() throws {
        let e = try experiment()
        // The same corpus with one token changed: same sizes, another digest.
        let c = try Corpus.load(e.corpus)
        var train = try c.split("train", path: e.corpus)
        train.tokens[1] = train.tokens[1] == 4 ? 5 : 4
        var splits: [String: CaptionSet] = [:]
        for name in ["train", "dev", "test"] { splits[name] = name == "train" ? train : try c.split(name, path: e.corpus) }
        let other = e.path("other-corpus.tzst")
        try Corpus(splits: splits, vocabularySize: c.vocabularySize).save(other)
        let otherNoise = e.path("other-noise.tzst")
        try TinyExperiment.run("mscn-noise", ["--corpus", other, "--ratio", "0.5", "--seed", "3", "--out", otherNoise])
        let out = e.path("foreign.tzst")
        let base = ["--mode", "warmup", "--net", "A"] + TinyExperiment.model + ["--out", out]
        try expectFailure("mscn-train", base + e.common.map { $0 == e.noise ? otherNoise : $0 },
                          saying: ["other-noise.tzst", "made from another corpus"], notWritten: [out])

        let moved = try XCTUnwrap(try NoisyMap.load(e.noise).clean.firstIndex(of: 0))
        let liar = try noiseMap(e, clean: 1, at: moved, name: "noise-lying.tzst")
        try expectFailure("mscn-train", base + e.common.map { $0 == e.noise ? liar : $0 },
                          saying: ["noise-lying.tzst", "caption \(moved) is labelled clean"], notWritten: [out])
    }

    /// Found by a fuzzing campaign: flags other than 0/1 read as "set"; a damaged corpus was
    /// reported as a foreign noise map; a meta split keeping no training caption reached the
    /// mixture fit as "no training scores"; round 1 started from a warm-up cut short.
    func testFlagsDamagedCorporaEmptySplitsAndShortWarmupsAreNamed() throws {
        let e = try experiment()
        let wa = e.path("flags-wa.tzst")
        try e.warmup("A", out: wa)
        let out = e.path("flags-out.tzst"), report = e.path("flags-report.json")
        let purify = ["--checkpoint", wa, "--net", "A", "--round", "1"]

        let cleanAt = try XCTUnwrap(try NoisyMap.load(e.noise).clean.firstIndex(of: 1))
        let odd = try noiseMap(e, clean: 7, at: cleanAt, name: "noise-seven.tzst")
        try expectFailure("mscn-purify", purify + e.common.map { $0 == e.noise ? odd : $0 } + ["--out", out, "--report", report],
                          saying: ["noise-seven.tzst", "clean[\(cleanAt)] is 7, a flag is 0 or 1"], notWritten: [out, report])

        let split = try MetaSplit.load(e.meta)
        var none = split
        none.trainKeep = [UInt8](repeating: 0, count: split.trainKeep.count)
        let empty = e.path("meta-keeps-none.tzst")
        try none.save(empty, metadata: try TensorFileReader(path: e.meta).metadata)
        try expectFailure("mscn-purify", purify + e.common.map { $0 == e.meta ? empty : $0 } + ["--out", out, "--report", report],
                          saying: ["meta-keeps-none.tzst", "keeps none of the", "nothing to purify"], notWritten: [out, report])

        // One byte in the middle of the corpus changed: the digest the noise map records no
        // longer matches, but the file to blame is the corpus.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: e.corpus))
        bytes[bytes.count / 2] ^= 0xFF
        let damaged = e.path("corpus-damaged.tzst")
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let r = try runProduct("mscn-purify", purify + e.common.map { $0 == e.corpus ? damaged : $0 } + ["--out", out, "--report", report])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("corpus-damaged.tzst"), r.stderr)
        XCTAssertFalse(r.stderr.contains("made from another corpus"), r.stderr)
        XCTAssertFalse(exists(out) || exists(report))

        // A warm-up of 1 epoch continued as if it held 2.
        let round = ["--mode", "round", "--net", "A", "--round", "1", "--initial", wa] + e.common
            + TinyExperiment.model.map { $0 == "1" ? "2" : $0 } + ["--out", out, "--log", out + ".log"]
        try expectFailure("mscn-train", round, saying: ["flags-wa.tzst", "holds 1 warm-up epochs, --warmup-epochs says 2"],
                          notWritten: [out, out + ".log"])
    }

    /// Two outputs at one path: the second write replaced the first; a failing later output left
    /// the earlier one behind.
    func testOutputsAreDistinctAndAllOrNothing() throws {
        let e = try experiment()
        let same = e.path("same.out")
        try expectFailure("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model + ["--out", same, "--log", same],
                          status: 64, saying: ["--out and --log name the same file"], notWritten: [same])
        let wa = e.path("aon-wa.tzst")
        try e.warmup("A", out: wa)
        let metrics = e.path("aon.json"), scores = e.path("no-such-folder/scores.tzst")
        try expectFailure("mscn-evaluate", ["--ckpt-a", wa, "--features", e.features("dev"), "--corpus", e.corpus, "--split", "dev",
                                            "--out", metrics, "--scores", scores],
                          saying: ["no-such-folder"], notWritten: [metrics])
        let ckpt = e.path("aon-ckpt.tzst"), log = e.path("no-such-folder/log.tsv")
        try expectFailure("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model + ["--out", ckpt, "--log", log],
                          saying: ["no-such-folder/log.tsv: No such file or directory"], notWritten: [ckpt])
    }

    /// A warm-up continued from the other net's checkpoint, or with a log of another length.
    func testWarmupContinuationChecksNetAndLog() throws {
        let e = try experiment()
        let wb = e.path("cont-wb.tzst")
        try e.warmup("B", out: wb)
        let next = e.path("cont-next.tzst")
        let args = ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model.map { $0 == "1" ? "2" : $0 }
        try expectFailure("mscn-train", args + ["--initial", wb, "--out", next], saying: ["cont-wb.tzst", "net B's warm-up"], notWritten: [next])
        let wa = e.path("cont-wa.tzst")
        try e.warmup("A", out: wa)
        let wrongLog = e.path("cont-wrong.log")
        try ("step\tepoch\tloss\tmeta_loss\tlr\tscore_mean\tmargin_mean\n1\t4\t2.5\t\t0.001\t\t\n").write(toFile: wrongLog, atomically: true, encoding: .utf8)
        try expectFailure("mscn-train", args + ["--initial", wa, "--previous-log", wrongLog, "--out", next],
                          saying: ["cont-wrong.log", "line 2 holds epoch 5 step 1, expected epoch 1 step 0"], notWritten: [next])
        // The log is copied into the new one: a damaged one was passed on whenever its last line
        // looked right (cut inside a line, steps missing, a loss that is not a number).
        let good = try String(contentsOfFile: wa + ".log", encoding: .utf8)
        var lines = good.split(separator: "\n").map(String.init)
        XCTAssertGreaterThan(lines.count, 3, "the warm-up log has a header and steps")
        let cut = String(good.dropLast(3))
        var garbled = lines
        garbled[1] = garbled[1].replacingOccurrences(of: "\t", with: "\tx", options: [], range: garbled[1].range(of: "\t"))
        lines.remove(at: 2)
        for (name, text, message) in [("cut", cut, "ends inside a line"),
                                      ("gap", lines.joined(separator: "\n") + "\n", "line 3 holds epoch 1 step 2, expected epoch 1 step 1"),
                                      ("garbled", garbled.joined(separator: "\n") + "\n", "line 2 is not a step line")] {
            let damaged = e.path("cont-\(name).log")
            try text.write(toFile: damaged, atomically: true, encoding: .utf8)
            try expectFailure("mscn-train", args + ["--initial", wa, "--previous-log", damaged, "--out", next, "--log", next + ".log"],
                              saying: ["cont-\(name).log", message], notWritten: [next, next + ".log"])
        }
        // A size option given with --initial was silently ignored.
        var wider = args
        if let i = wider.firstIndex(of: "--embed-size") { wider[i + 1] = "32" }
        try expectFailure("mscn-train", wider + ["--initial", wa, "--out", next],
                          saying: ["cont-wa.tzst", "--embed-size 32 differs from this checkpoint's 16"], notWritten: [next])
        // The warm-up's own log passes.
        try TinyExperiment.run("mscn-train", args + ["--initial", wa, "--previous-log", wa + ".log", "--out", next, "--log", next + ".log"])
    }

    /// `select-best` published a damaged checkpoint or a features file as the best round's.
    func testSelectBestPublishesOnlyWholeCheckpoints() throws {
        let e = try experiment()
        let wa = e.path("sel-wa.tzst"), metrics = e.path("sel.json")
        try e.warmup("A", out: wa)
        try TinyExperiment.run("mscn-evaluate", ["--ckpt-a", wa, "--features", e.features("dev"), "--corpus", e.corpus,
                                                 "--split", "dev", "--out", metrics])
        let outA = e.path("sel-a.tzst"), outB = e.path("sel-b.tzst"), note = e.path("sel-best.json")
        try expectFailure("mscn", ["select-best", "--metrics", metrics, "--ckpt-a", e.features("dev"), "--ckpt-b", wa,
                                   "--out-a", outA, "--out-b", outB, "--out", note],
                          saying: ["features-dev.tzst", "not an MSCN checkpoint"], notWritten: [outA, outB, note])
        try expectFailure("mscn", ["select-best", "--metrics", metrics, "--ckpt-a", wa, "--ckpt-b", wa,
                                   "--out-a", outA, "--out-b", outA, "--out", note],
                          status: 64, saying: ["--out-a and --out-b name the same file"], notWritten: [outA, note])
        // A folder where --out-b should go: the copy is made, its move into place fails, and the
        // copy goes too (it stayed beside the output, as a finished-looking checkpoint's twin).
        let taken = e.path("sel-taken")
        try FileManager.default.createDirectory(atPath: taken + "/inside", withIntermediateDirectories: true)
        try expectFailure("mscn", ["select-best", "--metrics", metrics, "--ckpt-a", wa, "--ckpt-b", wa,
                                   "--out-a", outA, "--out-b", taken, "--out", note],
                          saying: ["sel-taken", "cannot move checkpoint into place"], notWritten: [outA, note])
        let left = try FileManager.default.contentsOfDirectory(atPath: e.path("")).filter { $0.hasPrefix("sel-taken.tmp") }
        XCTAssertEqual(left, [], "the copy's temporary was left behind")
    }
}
