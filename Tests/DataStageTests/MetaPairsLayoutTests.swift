import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// The official meta-data layout: `meta_ims.npy` has one row per line of `meta_caps.txt`
/// (caption–image pairs, K = 1, images may repeat) beside K = 5 train/dev/test.
final class MetaPairsLayoutTests: XCTestCase {
    /// Meta pairs drawn from the dev split as the official README does (`images_dev[meta_idxs]`):
    /// dev caption index → its image (caption / 5). Dev image 2 appears twice.
    static let metaDevCaptions = [1, 10, 13, 9]

    /// train 3, dev 3, test 2 images as the precomp golden; meta = 4 pairs from dev, one row each.
    static func writeInput(to dir: URL) throws {
        try Golden.writePrecompInput(to: dir)
        let dev = try NPY.read(dir.appendingPathComponent("dev_ims.npy").path)
        let row = 4 * 6
        let devFloats = try dev.floats()
        let rows = metaDevCaptions.flatMap { c in devFloats[(c / 5) * row..<(c / 5 + 1) * row] }
        try NPY.write(StoredTensor(name: "meta", shape: [metaDevCaptions.count, 4, 6], floats: Array(rows)),
                      to: dir.appendingPathComponent("meta_ims.npy").path)
        let devCaptions = try String(contentsOf: dir.appendingPathComponent("dev_caps.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        try (metaDevCaptions.map { devCaptions[$0] }.joined(separator: "\n") + "\n")
            .write(to: dir.appendingPathComponent("meta_caps.txt"), atomically: true, encoding: .utf8)
    }

    func input() throws -> URL {
        let dir = Golden.folder("meta-pairs", "input")
        if Golden.recording { try Self.writeInput(to: dir) }
        return dir
    }

    func testIngestAndGivenSplitGolden() throws {
        let out = TestPaths.temporaryDirectory("meta-pairs")
        let r = try stage("mscn-ingest", ["--layout", "precomp", "--root", try input().path, "--out-dir", out.path, "--min-count", "3"])
        XCTAssertTrue(r.stdout.contains("meta\t4 images\t4 captions (K=1)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("train\t3 images\t15 captions (K=5)"), r.stdout)
        let meta = out.appendingPathComponent("meta.tzst")
        try stage("mscn-split", ["--corpus", out.appendingPathComponent("corpus.tzst").path, "--rule", "given", "--out", meta.path])
        try Golden.check(out, against: Golden.folder("meta-pairs", "expected"),
                         files: ["corpus.tzst", "vocab.json", "images-meta.tzst", "meta.tzst"])

        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        XCTAssertEqual(try corpus.split("meta").captionsPerImage, 1)
        XCTAssertEqual(try corpus.split("meta").captionCount, 4)
        XCTAssertEqual(try corpus.split("train").captionsPerImage, 5)
        XCTAssertEqual(try corpus.split("dev").captionsPerImage, 5)
        // Each meta caption is the dev caption it was drawn from, token for token.
        let dev = try corpus.split("dev"), metaCaptions = try corpus.split("meta")
        for (p, c) in Self.metaDevCaptions.enumerated() {
            XCTAssertEqual(Array(metaCaptions.caption(p)), Array(dev.caption(c)), "meta pair \(p)")
        }
        // The given rule takes every pair as it is: caption p with image row p.
        let split = try TensorFiles.readAll(meta.path)
        XCTAssertEqual(try split.tensors["meta_caption"]?.int64s(), [0, 1, 2, 3])
        XCTAssertEqual(try split.tensors["meta_image"]?.int64s(), [0, 1, 2, 3])
        XCTAssertEqual(split.tensors["meta_split"]?.bytes, [2, 2, 2, 2])
        let features = try TensorFileReader(path: out.appendingPathComponent("images-meta.tzst").path).read("features")
        XCTAssertEqual(features.shape, [4, 4, 6])
        XCTAssertEqual(Array(try features.floats()[(2 * 24)..<(3 * 24)]), Array(try features.floats()[(1 * 24)..<(2 * 24)]),
                       "dev image 2 repeats as meta rows 1 and 2")
    }

    func testMetaCountsThatFitNoK() throws {
        let root = TestPaths.temporaryDirectory("meta-pairs-bad").appendingPathComponent("in")
        try Golden.copy(try input(), to: root)
        let caps = root.appendingPathComponent("meta_caps.txt")
        // 6 lines for 4 rows: neither one caption per row nor K per row.
        try "a\nb\nc\nd\ne\nf\n".write(to: caps, atomically: true, encoding: .utf8)
        let out = root.deletingLastPathComponent().appendingPathComponent("out")
        let r = try stage("mscn-ingest", ["--layout", "precomp", "--root", root.path, "--out-dir", out.path], expect: 1)
        XCTAssertTrue(r.stderr.contains("meta_caps.txt") && r.stderr.contains("6 captions for 4 meta images fit no K"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("corpus.tzst").path))

        // 8 lines for 4 rows is K = 2 when detected, and an error when K = 1 is demanded.
        try "a\nb\nc\nd\ne\nf\ng\nh\n".write(to: caps, atomically: true, encoding: .utf8)
        let ok = try stage("mscn-ingest", ["--layout", "precomp", "--root", root.path, "--out-dir", out.path, "--min-count", "1"])
        XCTAssertTrue(ok.stdout.contains("meta\t4 images\t8 captions (K=2)"), ok.stdout)
        let forced = try stage("mscn-ingest", ["--layout", "precomp", "--root", root.path, "--out-dir", out.path,
                                               "--meta-captions-per-image", "1"], expect: 1)
        XCTAssertTrue(forced.stderr.contains("meta_caps.txt") && forced.stderr.contains("8 captions for 4 images, expected 4 (K=1, from --meta-captions-per-image)"),
                      forced.stderr)
    }

    /// A corpus written before per-split K (one `captions_per_image` for all) still loads.
    func testCorpusWithoutPerSplitK() throws {
        let path = TestPaths.temporaryDirectory("corpus-k").appendingPathComponent("c.tzst").path
        let set = CaptionSet(tokens: [1, 4, 2, 1, 5, 2], offsets: [0, 3, 6], captionsPerImage: 2)
        try Corpus(splits: ["train": set, "meta": CaptionSet(tokens: set.tokens, offsets: set.offsets, captionsPerImage: 1)],
                   vocabularySize: 6).save(path)
        let all = try TensorFiles.readAll(path)
        XCTAssertEqual(all.metadata["captions_per_image"], "2")
        XCTAssertEqual(all.metadata["captions_per_image.meta"], "1")
        XCTAssertNil(all.metadata["captions_per_image.train"], "only splits whose K differs carry their own")
        XCTAssertEqual(try Corpus.load(path).split("meta").captionsPerImage, 1)
        var meta = all.metadata
        meta["captions_per_image.meta"] = nil
        try TensorFiles.write(path, Array(all.tensors.values).sorted { $0.name < $1.name }, metadata: meta)
        XCTAssertEqual(try Corpus.load(path).split("meta").captionsPerImage, 2)
        meta["captions_per_image.meta"] = "two"
        try TensorFiles.write(path, Array(all.tensors.values).sorted { $0.name < $1.name }, metadata: meta)
        XCTAssertThrowsError(try Corpus.load(path)) { XCTAssertTrue("\($0)".contains("captions_per_image.meta 'two'"), "\($0)") }
    }
}
