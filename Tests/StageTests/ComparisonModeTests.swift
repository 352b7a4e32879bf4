import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// The warm-up regime check, the comparison rows' training mode (`standard`, `--clean-only`) and
/// the warm-up pair as round 0 of the selection, on the tiny experiment.
final class ComparisonModeTests: XCTestCase {
    func experiment() throws -> TinyExperiment {
        try TinyExperiment.shared(by: Self.self)
    }

    func testWarmupWritesItsRegimeCheck() throws {
        let e = try experiment()
        let r = try TinyExperiment.run("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model
                                       + ["--out", e.path("wa-regime.tzst"), "--regime", e.path("regime.json")])
        XCTAssertTrue(r.stdout.contains("clean-vs-noisy AUC"), r.stdout)
        let j = try json(e.path("regime.json"))
        let noise = try NoisyMap.load(e.noise)
        XCTAssertEqual(j["net"] as? String, "A")
        XCTAssertEqual(j["captions"] as? Int, noise.clean.count, "every training caption is scored")
        XCTAssertEqual(j["clean_captions"] as? Int, noise.clean.filter { $0 != 0 }.count)
        let auc = try XCTUnwrap(j["auc"] as? Double)
        XCTAssertTrue((0...1).contains(auc))
        let meta = try TensorFileReader(path: e.path("wa-regime.tzst")).metadata
        XCTAssertEqual(meta["warmup_auc"].flatMap(Double.init) ?? -1, auc, accuracy: 1e-12)
        // The label-free figure beside it: round 1's meta set, its positives and as many negatives.
        let positives = try TensorFileReader(path: e.meta).metadata["meta_pairs"].flatMap(Int.init)
        XCTAssertEqual(j["meta_pairs"] as? Int, try XCTUnwrap(positives) * 2)
        XCTAssertTrue((0...1).contains(try XCTUnwrap(j["meta_auc"] as? Double)))
        XCTAssertTrue(r.stdout.contains("meta AUC"), r.stdout)

        // The pipelines' regime stage: the same check on the saved checkpoint, byte for byte.
        let check = ["--mode", "regime", "--net", "A", "--initial", e.path("wa-regime.tzst")] + e.common
        let alone = try TinyExperiment.run("mscn-train", check + ["--regime", e.path("regime-stage.json")])
        XCTAssertTrue(alone.stdout.contains("clean-vs-noisy AUC"), alone.stdout)
        XCTAssertEqual(FileManager.default.contents(atPath: e.path("regime-stage.json")),
                       FileManager.default.contents(atPath: e.path("regime.json")))
        // It trains nothing: no --out or --log, and --regime is what it writes.
        for bad in [[String](), ["--regime", e.path("r.json"), "--out", e.path("never.tzst")],
                    ["--regime", e.path("r.json"), "--log", e.path("never.log")]] {
            let r = try runProduct("mscn-train", check + bad)
            XCTAssertEqual(r.status, 64, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never.tzst")))
        // Without --regime the warm-up skips the check.
        let quiet = try TinyExperiment.run("mscn-train", ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model
                                           + ["--out", e.path("wa-quiet.tzst")])
        XCTAssertFalse(quiet.stdout.contains("clean-vs-noisy AUC"), quiet.stdout)
        XCTAssertNil(try TensorFileReader(path: e.path("wa-quiet.tzst")).metadata["warmup_auc"])
    }

    /// `--mode standard` trains one epoch over every caption; with `--clean-only` over exactly the
    /// captions the noise map labels clean (the log's step count tells which), warm-up included.
    func testStandardModeTrainsOnAllOrOnlyTheCleanCaptions() throws {
        let e = try experiment()
        let noise = try NoisyMap.load(e.noise)
        let all = noise.clean.count, clean = noise.clean.filter { $0 != 0 }.count
        XCTAssertTrue(clean > 1 && clean < all, "the fixture needs both clean and noisy captions")
        func steps(_ log: String) throws -> Int {
            try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count - 1
        }
        // Batches of 4, the last batch of 1 dropped (batch norm): ⌊n/4⌋ plus one when n % 4 ≥ 2.
        func expected(_ n: Int) -> Int { n / 4 + (n % 4 >= 2 ? 1 : 0) }
        var small = TinyExperiment.model
        for flag in ["--warmup-batch-size", "--batch-size"] {
            if let i = small.firstIndex(of: flag) { small[i + 1] = "4" }
        }

        try TinyExperiment.run("mscn-train", ["--mode", "warmup", "--net", "B", "--clean-only"] + e.common + small
                               + ["--out", e.path("wb-oracle.tzst"), "--log", e.path("wb-oracle.log")])
        XCTAssertEqual(try steps(e.path("wb-oracle.log")), expected(clean))
        let round = ["--mode", "standard", "--net", "B", "--round", "1", "--initial", e.path("wb-oracle.tzst")] + e.common + small
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("std.tzst"), "--log", e.path("std.log")])
        try TinyExperiment.run("mscn-train", round + ["--clean-only", "--out", e.path("oracle.tzst"), "--log", e.path("oracle.log")])
        XCTAssertEqual(try steps(e.path("std.log")), expected(all))
        XCTAssertEqual(try steps(e.path("oracle.log")), expected(clean))
        XCTAssertEqual(try TensorFileReader(path: e.path("oracle.tzst")).metadata["clean_only"], "true")
        XCTAssertEqual(try TensorFileReader(path: e.path("std.tzst")).metadata["mode"], "standard")
        let log = try String(contentsOfFile: e.path("std.log"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(log[1].split(separator: "\t", omittingEmptySubsequences: false)[3].isEmpty, "no meta step in standard mode")
        // The scorer head trains with the net.
        XCTAssertNotEqual(try tensor(e.path("wb-oracle.tzst"), "meta/first_hidden_layer.fc.weight"),
                          try tensor(e.path("std.tzst"), "meta/first_hidden_layer.fc.weight"))

        for bad in [["--mask", e.path("x.tzst")], ["--regime", e.path("x.json")]] {
            let r = try runProduct("mscn-train", round + bad + ["--out", e.path("never.tzst")])
            XCTAssertEqual(r.status, 64, r.stderr)
        }
        let r = try runProduct("mscn-train", ["--mode", "round", "--clean-only", "--initial", e.path("std.tzst")] + e.common
                               + ["--out", e.path("never.tzst")])
        XCTAssertEqual(r.status, 64, "--clean-only is for warmup and standard: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never.tzst")))
    }

    /// A warm-up run as one stage per epoch (`--initial`, `--previous-log`) equals one long stage.
    func testWarmupInEpochStagesEqualsOneStage() throws {
        let e = try experiment()
        func args(_ epochs: Int) -> [String] {
            ["--mode", "warmup", "--net", "B"] + e.common + TinyExperiment.model.map { $0 == "1" ? String(epochs) : $0 }
        }
        XCTAssertTrue(args(2).contains("2"), "the tiny options set --warmup-epochs 1")
        try TinyExperiment.run("mscn-train", args(2) + ["--out", e.path("w2.tzst"), "--log", e.path("w2.log")])
        try TinyExperiment.run("mscn-train", args(1) + ["--out", e.path("w1.tzst"), "--log", e.path("w1.log")])
        try TinyExperiment.run("mscn-train", args(2) + ["--initial", e.path("w1.tzst"), "--previous-log", e.path("w1.log"),
                                                        "--out", e.path("w12.tzst"), "--log", e.path("w12.log"),
                                                        "--regime", e.path("w12.json")])
        try assertSameWarmup(e.path("w2.tzst"), e.path("w12.tzst"), epochs: "2")

        // Nothing to add, or not a warm-up checkpoint: clear errors, no output.
        var r = try runProduct("mscn-train", args(2) + ["--initial", e.path("w2.tzst"), "--out", e.path("never.tzst")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("w2.tzst") && r.stderr.contains("nothing to add"), r.stderr)
        let round = ["--mode", "standard", "--net", "B", "--initial", e.path("w1.tzst")] + e.common + TinyExperiment.model
        try TinyExperiment.run("mscn-train", round + ["--out", e.path("s1.tzst")])
        r = try runProduct("mscn-train", args(2) + ["--initial", e.path("s1.tzst"), "--out", e.path("never.tzst")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("s1.tzst") && r.stderr.contains("partial warm-up"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never.tzst")))
    }

    /// `--extend-until-auc` (off by default, not in the reference): the epochs it adds are those of
    /// a longer warm-up, bit for bit; a target already met adds none; round 1 counts from the
    /// planned length.
    func testExtendedWarmupEqualsALongerOne() throws {
        let e = try experiment()
        func args(_ epochs: Int) -> [String] {
            ["--mode", "warmup", "--net", "A"] + e.common + TinyExperiment.model.map { $0 == "1" ? String(epochs) : $0 }
        }
        // AUC 1 is out of reach of the tiny net: the warm-up runs to --max-warmup-epochs.
        let far = try TinyExperiment.run("mscn-train", args(1) + ["--extend-until-auc", "1", "--max-warmup-epochs", "3",
                                                                  "--out", e.path("wx.tzst"), "--log", e.path("wx.log"),
                                                                  "--regime", e.path("wx.json")])
        XCTAssertTrue(far.stdout.contains("is below 1.000: epoch 2 of at most 3"), far.stdout)
        XCTAssertTrue(far.stderr.contains("warning: warm-up A: ") && far.stderr.contains("after 3 epochs (--max-warmup-epochs)"), far.stderr)
        try TinyExperiment.run("mscn-train", args(3) + ["--out", e.path("w3.tzst"), "--log", e.path("w3.log"),
                                                        "--regime", e.path("w3.json")])
        try assertSameWarmup(e.path("w3.tzst"), e.path("wx.tzst"), epochs: "3")
        XCTAssertEqual(try TensorFileReader(path: e.path("wx.tzst")).metadata["warmup_extended_from"], "1")
        XCTAssertEqual(FileManager.default.contents(atPath: e.path("wx.json")),
                       FileManager.default.contents(atPath: e.path("w3.json")), "the regime check of the last epoch")

        // A target the first check meets adds no epoch.
        let near = try TinyExperiment.run("mscn-train", args(1) + ["--extend-until-auc", "0.01", "--max-warmup-epochs", "3",
                                                                   "--out", e.path("wn.tzst"), "--log", e.path("wn.log")])
        XCTAssertTrue(near.stdout.contains("reaches 0.010 after 1 epoch\n"), near.stdout)
        try TinyExperiment.run("mscn-train", args(1) + ["--out", e.path("wa1.tzst"), "--log", e.path("wa1.log")])
        try assertSameWarmup(e.path("wa1.tzst"), e.path("wn.tzst"), epochs: "1")

        // Round 1 continues the extended warm-up with the planned length, and refuses another.
        let round = ["--mode", "round", "--net", "A", "--round", "1", "--initial", e.path("wx.tzst")] + e.common
        try TinyExperiment.run("mscn-train", round + TinyExperiment.model + ["--out", e.path("rx.tzst")])
        let r = try runProduct("mscn-train", round + args(3).suffix(TinyExperiment.model.count) + ["--out", e.path("never.tzst")])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("wx.tzst") && r.stderr.contains("--warmup-epochs says 3"), r.stderr)

        // A noise map without noisy pairs has no AUC to wait for: the error names it.
        let clean = e.path("noise-none.tzst")
        try TinyExperiment.run("mscn-noise", ["--corpus", e.corpus, "--ratio", "0", "--seed", "3", "--out", clean])
        let none = try runProduct("mscn-train", args(1).map { $0 == e.noise ? clean : $0 }
                                  + ["--extend-until-auc", "0.9", "--max-warmup-epochs", "2", "--out", e.path("never.tzst")])
        XCTAssertEqual(none.status, 1, none.stderr)
        XCTAssertTrue(none.stderr.contains("noise-none.tzst") && none.stderr.contains("labels every one clean"), none.stderr)
        // The meta AUC needs no labels of the training pairs: the same map is no obstacle to it.
        let metaNear = try TinyExperiment.run("mscn-train", args(1).map { $0 == e.noise ? clean : $0 }
                                              + ["--extend-until-auc", "0.01", "--max-warmup-epochs", "2", "--auc-of", "meta",
                                                 "--out", e.path("wm1.tzst"), "--log", e.path("wm1.log")])
        XCTAssertTrue(metaNear.stdout.contains("warm-up A: meta AUC ") && metaNear.stdout.contains(" reaches 0.010 after 1 epoch\n"),
                      metaNear.stdout)
        // Waiting on the meta AUC extends exactly like waiting on the labels' AUC.
        let metaFar = try TinyExperiment.run("mscn-train", args(1) + ["--extend-until-auc", "1", "--max-warmup-epochs", "3",
                                                                      "--auc-of", "meta", "--out", e.path("wmx.tzst"),
                                                                      "--log", e.path("wmx.log")])
        XCTAssertTrue(metaFar.stdout.contains("is below 1.000: epoch 3 of at most 3"), metaFar.stdout)
        XCTAssertTrue(metaFar.stderr.contains("warning: warm-up A: meta AUC "), metaFar.stderr)
        try assertSameWarmup(e.path("w3.tzst"), e.path("wmx.tzst"), epochs: "3")
        // Options that do not fit together are refused before any work.
        for bad in [args(1) + ["--extend-until-auc", "0.9"], args(1) + ["--max-warmup-epochs", "3"],
                    args(2) + ["--extend-until-auc", "0.9", "--max-warmup-epochs", "2"],
                    args(1) + ["--extend-until-auc", "1.5", "--max-warmup-epochs", "3"],
                    args(2) + ["--until-epoch", "1", "--extend-until-auc", "0.9", "--max-warmup-epochs", "3"],
                    round + TinyExperiment.model + ["--extend-until-auc", "0.9", "--max-warmup-epochs", "3"],
                    args(1) + ["--auc-of", "meta"],
                    args(1) + ["--extend-until-auc", "0.9", "--max-warmup-epochs", "3", "--auc-of", "dev"]] {
            let r = try runProduct("mscn-train", bad + ["--out", e.path("never.tzst")])
            XCTAssertEqual(r.status, 64, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: e.path("never.tzst")))
    }

    /// Two warm-up checkpoints with the same tensors, bit for bit, the same epoch count, and the
    /// same log (at the checkpoint's path + ".log" with ".tzst" replaced: w2.tzst → w2.log).
    func assertSameWarmup(_ expected: String, _ actual: String, epochs: String,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try TensorFiles.readAll(expected), b = try TensorFiles.readAll(actual)
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
        for (name, t) in a.tensors { XCTAssertEqual(t.bytes, b.tensors[name]?.bytes, name, file: file, line: line) }
        XCTAssertEqual(a.metadata["warmup_epochs_done"], epochs, file: file, line: line)
        XCTAssertEqual(b.metadata["warmup_epochs_done"], epochs, file: file, line: line)
        func log(_ checkpoint: String) throws -> String {
            try String(contentsOfFile: String(checkpoint.dropLast(".tzst".count)) + ".log", encoding: .utf8)
        }
        XCTAssertEqual(try log(expected), try log(actual), file: file, line: line)
    }

    func testSelectBestConsidersTheWarmupPairAsRoundZero() throws {
        let e = try experiment()
        let sums = [130.0, 48.0, 90.0]
        var metrics: [String] = [], a: [String] = [], b: [String] = []
        // select-best publishes whole checkpoints only: one real checkpoint, tagged per round and net.
        let real = e.path("ck-real.tzst")
        try e.warmup("A", out: real)
        let (meta, tensors) = try TensorFiles.readAll(real)
        for (i, s) in sums.enumerated() {
            let m = e.path("dev\(i).json")
            try Data("{\"rsum\": \(s)}".utf8).write(to: URL(fileURLWithPath: m))
            metrics.append(m)
            for (net, list) in [("a", 0), ("b", 1)] {
                let p = e.path("ck-\(net)\(i)")
                try TensorFiles.write(p, tensors.values.sorted { $0.name < $1.name }, metadata: meta.merging(["tag": "round \(i) net \(net)"]) { $1 })
                if list == 0 { a.append(p) } else { b.append(p) }
            }
        }
        let r = try TinyExperiment.run("mscn", ["select-best", "--first-round", "0", "--metrics"] + metrics + ["--ckpt-a"] + a
                                       + ["--ckpt-b"] + b + ["--out-a", e.path("best-a"), "--out-b", e.path("best-b"),
                                                             "--out", e.path("best.json")])
        XCTAssertTrue(r.stdout.contains("warm-up"), r.stdout)
        let j = try json(e.path("best.json"))
        XCTAssertEqual(j["best_round"] as? Int, 0)
        XCTAssertEqual(j["first_round"] as? Int, 0)
        XCTAssertEqual(try TensorFileReader(path: e.path("best-b")).metadata["tag"], "round 0 net b")

        try TinyExperiment.run("mscn", ["select-best", "--metrics"] + metrics + ["--ckpt-a"] + a + ["--ckpt-b"] + b
                               + ["--out-a", e.path("best-a"), "--out-b", e.path("best-b"), "--out", e.path("best1.json")])
        XCTAssertEqual(try json(e.path("best1.json"))["best_round"] as? Int, 1, "without --first-round the first entry is round 1")
    }

    private func tensor(_ p: String, _ name: String) throws -> [Float] { try TensorFileReader(path: p).read(name).floats() }
    private func json(_ p: String) throws -> [String: Any] {
        let d = try XCTUnwrap(FileManager.default.contents(atPath: p))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: d) as? [String: Any])
    }
}
