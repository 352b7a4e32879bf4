import Artefacts
import BuiltinDataset
import Foundation
import TensorFile
import TestSupport
import XCTest

/// Each data stage run as an executable on a tiny checked-in input and compared with its golden output.
final class GoldenStageTests: XCTestCase {
    let outputs = ["corpus.tzst", "vocab.json", "images-train.tzst", "images-dev.tzst", "images-test.tzst"]

    func imagesInput() throws -> URL {
        let input = Golden.folder("images", "input")
        if Golden.recording { try Golden.imagesGenerator.write(to: input.path) }
        return input
    }

    func testGeneratorReproducesCheckedInJPEGs() throws {
        let input = try imagesInput()
        let fresh = TestPaths.temporaryDirectory("gen")
        try Golden.imagesGenerator.write(to: fresh.path)
        let names = try FileManager.default.subpathsOfDirectory(atPath: input.path).filter { !$0.hasSuffix("images") }.sorted()
        XCTAssertEqual(names.count, 8 + 6)
        for name in names {
            let want = FileManager.default.contents(atPath: input.appendingPathComponent(name).path)
            let got = FileManager.default.contents(atPath: fresh.appendingPathComponent(name).path)
            XCTAssertNotNil(want)
            XCTAssertEqual(got, want, "generator output \(name) differs from the checked-in golden input")
        }
    }

    func testImagesLayoutIngestGolden() throws {
        let out = TestPaths.temporaryDirectory("ingest")
        try stage("mscn-ingest", ["--layout", "images", "--root", try imagesInput().path, "--out-dir", out.path, "--min-count", "2", "--image-size", "24"])
        try Golden.check(out, against: Golden.folder("images", "expected"), files: outputs)
        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        XCTAssertEqual(try corpus.split("train").captionCount, 20)
        XCTAssertEqual(try TensorFileReader(path: out.appendingPathComponent("images-dev.tzst").path).info("pixels").shape, [2, 24, 24, 3])
    }

    func testFeaturesGolden() throws {
        let out = TestPaths.temporaryDirectory("features")
        try stage("mscn-ingest", ["--layout", "images", "--root", try imagesInput().path, "--out-dir", out.path, "--min-count", "2", "--image-size", "24"])
        let images = out.appendingPathComponent("images-train.tzst").path
        try stage("mscn-features", ["--images", images, "--out", out.appendingPathComponent("features-train.tzst").path])
        try Golden.check(out, against: Golden.folder("features", "expected"), files: ["features-train.tzst"])
        // Same input and seed, byte-identical file.
        try stage("mscn-features", ["--images", images, "--out", out.appendingPathComponent("again.tzst").path])
        XCTAssertEqual(FileManager.default.contents(atPath: out.appendingPathComponent("features-train.tzst").path),
                       FileManager.default.contents(atPath: out.appendingPathComponent("again.tzst").path))
        try stage("mscn-features", ["--images", images, "--out", out.appendingPathComponent("d48.tzst").path, "--dim", "48"])
        XCTAssertEqual(try TensorFileReader(path: out.appendingPathComponent("d48.tzst").path).info("features").shape, [4, 36, 48])
    }

    func testPrecompIngestGoldenAndPassThrough() throws {
        let input = Golden.folder("precomp", "input")
        if Golden.recording { try Golden.writePrecompInput(to: input) }
        let out = TestPaths.temporaryDirectory("precomp")
        let r = try stage("mscn-ingest", ["--layout", "precomp", "--root", input.path, "--out-dir", out.path,
                                          "--min-count", "3", "--dev-limit", "2"])
        try Golden.check(out, against: Golden.folder("precomp", "expected"), files: outputs)
        // Unknown words are mapped to <unk> and counted per split.
        XCTAssertTrue(r.stderr.contains("train: ") && r.stderr.contains("words unknown"), r.stderr)
        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        XCTAssertEqual(try corpus.split("dev").captionCount, 10, "dev limited to 2 images")
        XCTAssertTrue(try corpus.split("train").tokens.contains(3), "rare words become <unk>")
        let source = try NPY.read(input.appendingPathComponent("train_ims.npy").path)
        let stored = try TensorFileReader(path: out.appendingPathComponent("images-train.tzst").path).read("features")
        XCTAssertEqual(stored.bytes, source.bytes)

        // mscn-features hard-links precomputed features instead of copying them.
        let images = out.appendingPathComponent("images-train.tzst").path
        let features = out.appendingPathComponent("features-train.tzst").path
        try stage("mscn-features", ["--images", images, "--out", features])
        let a = try FileManager.default.attributesOfItem(atPath: images), b = try FileManager.default.attributesOfItem(atPath: features)
        XCTAssertEqual(a[.systemFileNumber] as? Int, b[.systemFileNumber] as? Int, "same inode")
    }
}
