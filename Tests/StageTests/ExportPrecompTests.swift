import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// `mscn export precomp` on a tiny run folder: the layout the official code reads, and a round
/// trip through `mscn-ingest --layout precomp` and `mscn-noise --import` back to the same data.
final class ExportPrecompTests: XCTestCase {
    /// A run folder laid out as the runner publishes one (`ingest/data`, `features_<split>/features`,
    /// `noise/map`, `split/meta`, `params.json`), on tiny built-in data ingested with a minimum
    /// word count of 3 so that dev and test captions hold unknown words.
    struct TinyRun {
        let root: URL
        var folder: String { root.appendingPathComponent("run").path }
        func path(_ rel: String) -> String { root.appendingPathComponent(rel).path }
        func run(_ rel: String) -> String { folder + "/" + rel }
    }

    static var shared: TinyRun?

    func tinyRun() throws -> TinyRun {
        if let r = Self.shared { return r }
        let r = TinyRun(root: TestPaths.temporaryDirectory("export-precomp"))
        try TinyExperiment.run("mscn", ["dataset", "generate", "--out", r.path("raw"), "--train", "12", "--dev", "6", "--test", "6",
                                        "--size", "32", "--seed", "5"])
        try TinyExperiment.run("mscn-ingest", ["--layout", "images", "--root", r.path("raw"), "--out-dir", r.run("ingest/data"),
                                               "--min-count", "3", "--image-size", "32"])
        for split in ["train", "dev", "test"] {
            try FileManager.default.createDirectory(atPath: r.run("features_\(split)"), withIntermediateDirectories: true)
            try TinyExperiment.run("mscn-features", ["--images", r.run("ingest/data/images-\(split).tzst"),
                                                     "--out", r.run("features_\(split)/features"), "--dim", "24"])
        }
        for d in ["noise", "split"] { try FileManager.default.createDirectory(atPath: r.run(d), withIntermediateDirectories: true) }
        try TinyExperiment.run("mscn-noise", ["--corpus", r.run("ingest/data/corpus.tzst"), "--ratio", "0.5", "--seed", "3", "--out", r.run("noise/map")])
        try TinyExperiment.run("mscn-split", ["--corpus", r.run("ingest/data/corpus.tzst"), "--rule", "flickr", "--meta-fraction", "0.2",
                                              "--seed", "3", "--out", r.run("split/meta")])
        try Data(#"{"params": {"noise": "0.5", "seed": "3"}}"#.utf8).write(to: URL(fileURLWithPath: r.run("params.json")))
        Self.shared = r
        return r
    }

    func testExportHasTheOfficialLayoutAndIsDeterministic() throws {
        let r = try tinyRun()
        let out = r.path("out-layout")
        let result = try TinyExperiment.run("mscn", ["export", "precomp", r.folder, out])
        XCTAssertTrue(result.stdout.contains("train_ims.npy"), result.stdout)
        let corpus = try Corpus.load(r.run("ingest/data/corpus.tzst"))
        let ds = out + "/f30k_precomp"
        for split in ["train", "dev", "test"] {
            let set = try corpus.split(split)
            let ims = try NPYReader(path: "\(ds)/\(split)_ims.npy")
            XCTAssertEqual(ims.dtype, .f32)
            XCTAssertEqual(ims.shape, [set.imageCount, 36, 24], split)
            XCTAssertEqual(try lines("\(ds)/\(split)_caps.txt").count, set.captionCount, split)
            let features = try TensorFileReader(path: r.run("features_\(split)/features")).read(Schema.features)
            XCTAssertEqual(try NPY.read("\(ds)/\(split)_ims.npy").bytes, features.bytes, "\(split) features differ")
        }
        // Every caption line is plain words separated by single spaces: what both tokenisers split alike.
        for l in try lines("\(ds)/train_caps.txt") { XCTAssertFalse(l.isEmpty || l.contains("  ") || l.contains("<"), l) }

        let record = try json(out + "/export.json")
        let unknown = try XCTUnwrap(record["unknown_word"] as? String)
        let vocab = try json("\(out)/vocab/f30k_precomp_vocab.json")
        let word2idx = try XCTUnwrap(vocab["word2idx"] as? [String: Int])
        XCTAssertNil(word2idx[unknown], "the unknown-word stand-in must not be a vocabulary word")
        XCTAssertEqual(vocab["idx"] as? Int, corpus.vocabularySize)
        XCTAssertEqual(record["noise_file"] as? String, "noise_index/f30k_precomp_0.5.npy")

        // Meta pairs: one image row per caption, the rows of the dev images they come from.
        let meta = try MetaSplit.load(r.run("split/meta"))
        let metaIms = try NPY.read("\(ds)/meta_ims.npy")
        XCTAssertEqual(metaIms.shape, [meta.caption.count, 36, 24])
        XCTAssertEqual(try lines("\(ds)/meta_caps.txt").count, meta.caption.count)
        let devCaps = try lines("\(ds)/dev_caps.txt")
        let metaCaps = try lines("\(ds)/meta_caps.txt")
        let dev = try TensorFileReader(path: r.run("features_dev/features"))
        for p in meta.caption.indices {
            XCTAssertEqual(meta.source[p], 1, "flickr meta pairs come from dev")
            XCTAssertEqual(metaCaps[p], devCaps[Int(meta.caption[p])])
            let row = metaIms.bytes.count / meta.caption.count
            XCTAssertEqual(Array(metaIms.bytes[(p * row)..<((p + 1) * row)]),
                           try dev.readRows(Schema.features, Int(meta.image[p])..<Int(meta.image[p] + 1)).bytes, "meta pair \(p)")
        }

        // Same run folder, same bytes.
        let again = r.path("out-layout-2")
        try TinyExperiment.run("mscn", ["export", "precomp", r.folder, again])
        for f in ["f30k_precomp/train_ims.npy", "f30k_precomp/train_caps.txt", "f30k_precomp/dev_caps.txt", "f30k_precomp/test_caps.txt",
                  "f30k_precomp/meta_ims.npy", "f30k_precomp/meta_caps.txt", "vocab/f30k_precomp_vocab.json",
                  "noise_index/f30k_precomp_0.5.npy"] {
            XCTAssertEqual(FileManager.default.contents(atPath: out + "/" + f), FileManager.default.contents(atPath: again + "/" + f), f)
        }
    }

    func testIngestOfTheExportGivesBackTheSameDataAndNoiseMap() throws {
        let r = try tinyRun()
        let out = r.path("out-roundtrip")
        // The meta pairs (one caption per image row) are checked by the layout test.
        try TinyExperiment.run("mscn", ["export", "precomp", r.folder, out, "--no-meta"])
        let back = r.path("back")
        try TinyExperiment.run("mscn-ingest", ["--layout", "precomp", "--root", out + "/f30k_precomp",
                                               "--vocab", out + "/vocab/f30k_precomp_vocab.json", "--out-dir", back])
        let original = try Corpus.load(r.run("ingest/data/corpus.tzst"))
        let reread = try Corpus.load(back + "/corpus.tzst")
        XCTAssertEqual(reread.vocabularySize, original.vocabularySize)
        for split in ["train", "dev", "test"] {
            XCTAssertEqual(try reread.split(split), try original.split(split), "\(split) token ids differ after the round trip")
            XCTAssertEqual(try TensorFileReader(path: back + "/images-\(split).tzst").read(Schema.features).bytes,
                           try TensorFileReader(path: r.run("features_\(split)/features")).read(Schema.features).bytes, split)
        }
        XCTAssertTrue(try original.split("dev").tokens.contains(3) || original.split("test").tokens.contains(3),
                      "the tiny data should exercise unknown words")

        let map = try NoisyMap.load(r.run("noise/map"))
        let npy = try NPY.read(out + "/noise_index/f30k_precomp_0.5.npy")
        XCTAssertEqual(npy.dtype, .i64)
        XCTAssertEqual(try npy.int64s(), map.imageOfCaption)
        try TinyExperiment.run("mscn-noise", ["--corpus", back + "/corpus.tzst", "--import", out + "/noise_index/f30k_precomp_0.5.npy",
                                              "--out", r.path("noise-back.tzst")])
        let imported = try NoisyMap.load(r.path("noise-back.tzst"))
        XCTAssertEqual(imported, map, "the imported noise map (and its clean labels) differ from the run's")
    }

    func testExistingOutputIsKeptAndFailuresLeaveNothing() throws {
        let r = try tinyRun()
        let out = r.path("out-atomic")
        try TinyExperiment.run("mscn", ["export", "precomp", r.folder, out, "--no-features"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/f30k_precomp/train_ims.npy"), "--no-features writes no .npy features")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/f30k_precomp/train_caps.txt"))

        let refused = try runProduct("mscn", ["export", "precomp", r.folder, out])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(out) && refused.stderr.contains("--force"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/f30k_precomp/train_ims.npy"), "refused export must not touch OUT")

        try TinyExperiment.run("mscn", ["export", "precomp", r.folder, out, "--force", "--splits", "test", "--no-meta", "--no-noise"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/f30k_precomp").sorted(), ["test_caps.txt", "test_ims.npy"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/noise_index"))

        // A run folder without a noise map: clear error, no output, no staging folder left behind.
        let broken = r.path("broken-run")
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        for d in ["ingest", "features_train", "features_dev", "features_test", "split"] {
            try FileManager.default.createSymbolicLink(atPath: broken + "/" + d, withDestinationPath: r.run(d))
        }
        let failed = try runProduct("mscn", ["export", "precomp", broken, r.path("out-broken")])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("noise/map") && failed.stderr.contains("--no-noise"), failed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.path("out-broken")))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: r.root.path).contains { $0.contains(".partial-") })

        let notRun = try runProduct("mscn", ["export", "precomp", r.path("raw"), r.path("out-raw")])
        XCTAssertEqual(notRun.status, 1)
        XCTAssertTrue(notRun.stderr.contains("ingest/data/corpus.tzst"), notRun.stderr)
    }

    private func lines(_ p: String) throws -> [String] {
        try String(contentsOfFile: p, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    private func json(_ p: String) throws -> [String: Any] {
        let d = try XCTUnwrap(FileManager.default.contents(atPath: p))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: d) as? [String: Any])
    }
}
