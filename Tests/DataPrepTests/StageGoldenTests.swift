import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// `mscn-noise` and `mscn-split` run as executables on the checked-in tiny corpus, compared with
/// the checked-in outputs. `MSCN_RECORD_GOLDEN=1` re-records corpus, import file and outputs
/// (on purpose only, never on CI).
final class StageGoldenTests: XCTestCase {
    static var golden: URL { TestPaths.packageRoot.appendingPathComponent("Tests/DataPrepTests/Golden") }
    static var recording: Bool { ProcessInfo.processInfo.environment["MSCN_RECORD_GOLDEN"] == "1" }
    var corpus: String { Self.golden.appendingPathComponent("corpus.tzst").path }
    var importFile: String { Self.golden.appendingPathComponent("noise-index.npy").path }

    /// (golden name, executable, arguments before `--out`, also a JSON manifest)
    var cases: [(String, String, [String], Bool)] {
        [
            ("noise-caption", "mscn-noise", ["--corpus", corpus, "--ratio", "0.4", "--seed", "7"], true),
            ("noise-image", "mscn-noise", ["--corpus", corpus, "--ratio", "0.5", "--seed", "3", "--protocol", "image"], false),
            ("noise-import", "mscn-noise", ["--corpus", corpus, "--import", importFile], true),
            ("meta-flickr", "mscn-split", ["--corpus", corpus, "--rule", "flickr", "--seed", "5", "--meta-fraction", "0.1"], false),
            ("meta-flickr-disjoint", "mscn-split",
             ["--corpus", corpus, "--rule", "flickr", "--seed", "5", "--meta-fraction", "0.1", "--disjoint"], false),
            ("meta-coco", "mscn-split", ["--corpus", corpus, "--rule", "coco", "--seed", "2", "--coco-train-images", "4"], false),
            ("meta-given", "mscn-split", ["--corpus", corpus, "--rule", "given"], false),
        ]
    }

    override func setUpWithError() throws {
        if Self.recording {
            try FileManager.default.createDirectory(at: Self.golden, withIntermediateDirectories: true)
            try TinyCorpus.make(train: 24, dev: 12, meta: 3, k: 5).save(corpus)
            // A published-style per-image index: images 0..5 rotate, the rest stay.
            let ids: [Int32] = (0..<24).map { $0 < 6 ? Int32(($0 + 1) % 6) : Int32($0) }
            try NPY.write(StoredTensor(name: "noise-index", shape: [24], int32s: ids), to: importFile)
        }
        guard FileManager.default.fileExists(atPath: corpus) else {
            XCTFail("\(corpus) is missing (record with MSCN_RECORD_GOLDEN=1)")
            throw XCTSkip("missing golden corpus")
        }
    }

    func run(_ exe: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let r = try runProduct(exe, args)
        XCTAssertEqual(r.status, 0, "\(exe) \(args.joined(separator: " ")) failed: \(r.stderr)", file: file, line: line)
        return r
    }

    func testStagesMatchGoldenOutputs() throws {
        let tmp = TestPaths.temporaryDirectory("dataprep-golden")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for (name, exe, args, manifest) in cases {
            let out = tmp.appendingPathComponent("\(name).tzst").path
            let json = tmp.appendingPathComponent("\(name).json").path
            _ = try run(exe, args + ["--out", out] + (manifest ? ["--manifest", json] : []))
            let goldenOut = Self.golden.appendingPathComponent("\(name).tzst").path
            let goldenJSON = Self.golden.appendingPathComponent("\(name).json").path
            if Self.recording {
                try? FileManager.default.removeItem(atPath: goldenOut)
                try FileManager.default.copyItem(atPath: out, toPath: goldenOut)
                if manifest {
                    try? FileManager.default.removeItem(atPath: goldenJSON)
                    try FileManager.default.copyItem(atPath: json, toPath: goldenJSON)
                }
                continue
            }
            let got = try TensorFiles.readAll(out), want = try TensorFiles.readAll(goldenOut)
            XCTAssertEqual(got.metadata, want.metadata, "\(name): metadata")
            XCTAssertEqual(got.tensors, want.tensors, "\(name): tensors")
            if manifest {
                XCTAssertEqual(try parsedJSON(json), try parsedJSON(goldenJSON), "\(name): manifest JSON")
            }
        }
    }

    func parsedJSON(_ path: String) throws -> NSDictionary {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    func testGoldenOutputsAreConsistent() throws {
        let train = try Corpus.load(corpus).split("train")
        let caption = try NoisyMap.load(Self.golden.appendingPathComponent("noise-caption.tzst").path)
        XCTAssertEqual(caption.imageOfCaption.count, train.captionCount)
        for (j, t) in caption.imageOfCaption.enumerated() { XCTAssertEqual(caption.clean[j] == 1, t == Int64(j / 5)) }
        let noisy = caption.clean.filter { $0 == 0 }.count
        XCTAssertLessThanOrEqual(noisy, 48)  // floor(0.4 · 120)
        XCTAssertGreaterThan(noisy, 40)
        let meta = try TensorFileReader(path: Self.golden.appendingPathComponent("noise-caption.tzst").path).metadata
        XCTAssertEqual(meta["realised_noise_rate"].flatMap(Double.init), Double(noisy) / 120)
        let imported = try NoisyMap.load(Self.golden.appendingPathComponent("noise-import.tzst").path)
        XCTAssertEqual(imported.clean, (0..<120).map { $0 < 30 ? 0 : 1 })
    }

    func testTwoRunsAreByteIdentical() throws {
        let tmp = TestPaths.temporaryDirectory("dataprep-determinism")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for (name, exe, args, _) in cases where name == "noise-caption" || name == "meta-coco" {
            let a = tmp.appendingPathComponent("\(name)-a.tzst").path, b = tmp.appendingPathComponent("\(name)-b.tzst").path
            _ = try run(exe, args + ["--out", a])
            _ = try run(exe, args + ["--out", b])
            XCTAssertEqual(FileManager.default.contents(atPath: a), FileManager.default.contents(atPath: b), name)
        }
    }

    /// Runs a stage that must fail: non-zero status, a one-line error naming `mentions`, no output.
    func expectFailure(_ exe: String, _ args: [String], mentions: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let tmp = TestPaths.temporaryDirectory("dataprep-bad")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("out.tzst").path
        let r = try runProduct(exe, args + ["--out", out])
        XCTAssertNotEqual(r.status, 0, "\(exe) should fail", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(mentions), "stderr should mention '\(mentions)': \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output after a failure", file: file, line: line)
    }

    func testBadInputs() throws {
        let tmp = TestPaths.temporaryDirectory("dataprep-inputs")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let missing = tmp.appendingPathComponent("nope.tzst").path
        try expectFailure("mscn-noise", ["--corpus", missing, "--ratio", "0.2"], mentions: missing)
        try expectFailure("mscn-split", ["--corpus", missing, "--rule", "flickr"], mentions: missing)

        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: corpus))
        let truncated = tmp.appendingPathComponent("truncated.tzst").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        try expectFailure("mscn-noise", ["--corpus", truncated, "--ratio", "0.2"], mentions: truncated)
        let garbage = tmp.appendingPathComponent("garbage.tzst").path
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: garbage))
        try expectFailure("mscn-split", ["--corpus", garbage, "--rule", "flickr"], mentions: garbage)

        try expectFailure("mscn-noise", ["--corpus", corpus, "--ratio", "1.0"], mentions: "ratio")
        try expectFailure("mscn-noise", ["--corpus", corpus, "--ratio", "-0.1"], mentions: "ratio")

        let wrongLength = tmp.appendingPathComponent("short.npy").path
        try NPY.write(StoredTensor(name: "n", shape: [7], int64s: [Int64](repeating: 0, count: 7)), to: wrongLength)
        try expectFailure("mscn-noise", ["--corpus", corpus, "--import", wrongLength], mentions: wrongLength)

        // 24 training images · 5 = 120 captions; dev has 60: 0.6 asks for 72.
        try expectFailure("mscn-split", ["--corpus", corpus, "--rule", "flickr", "--meta-fraction", "0.6"], mentions: "too large")
        try expectFailure("mscn-split", ["--corpus", corpus, "--rule", "flickr", "--meta-fraction", "0.001"], mentions: "empty")
        try expectFailure("mscn-split", ["--corpus", corpus, "--rule", "coco", "--coco-train-images", "99"], mentions: "99")
    }

    func testSplitWarnsAboutDevOverlap() throws {
        let tmp = TestPaths.temporaryDirectory("dataprep-warn")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let r = try run("mscn-split", ["--corpus", corpus, "--rule", "flickr", "--seed", "1", "--meta-fraction", "0.1",
                                        "--out", tmp.appendingPathComponent("m.tzst").path])
        XCTAssertTrue(r.stderr.contains("quirk 7"), r.stderr)
        XCTAssertTrue(r.stdout.contains("meta pairs 12"), r.stdout)
    }
}
