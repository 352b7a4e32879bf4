import Artefacts
import Captions
import Imaging
import Foundation
import TensorFile
import TestSupport
import XCTest

/// Bad inputs to each data stage: a one-line error naming the file, a non-zero exit, no output.
final class BadInputTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = TestPaths.temporaryDirectory("bad-input")
    }

    /// A fresh copy of a golden input folder that the test may damage.
    func copyInput(_ layout: String) throws -> URL {
        let dst = work.appendingPathComponent(layout)
        try Golden.copy(Golden.folder(layout, "input"), to: dst)
        return dst
    }

    func ingest(_ root: URL, _ layout: String, _ extra: [String] = [], expect status: Int32,
                file: StaticString = #filePath, line: UInt = #line) throws -> (ProcessResult, URL) {
        let out = work.appendingPathComponent("out-\(UUID().uuidString)")
        let r = try stage("mscn-ingest", ["--layout", layout, "--root", root.path, "--out-dir", out.path, "--min-count", "1",
                                          "--image-size", "24"] + extra, expect: status, file: file, line: line)
        if status != 0 {
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("corpus.tzst").path),
                           "a failed run must not leave a finished-looking corpus", file: file, line: line)
            // Nor anything else: the decoded pixels' spool of the split that failed was left behind.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            XCTAssertEqual(left, [], "a failed run leaves its --out-dir empty", file: file, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("error:") }.count, 1, r.stderr, file: file, line: line)
        }
        return (r, out)
    }

    func editLines(_ url: URL, _ change: (inout [String]) -> Void) throws {
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        change(&lines)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testMissingCaptionFile() throws {
        let root = try copyInput("images")
        try FileManager.default.removeItem(at: root.appendingPathComponent("dev_caps.txt"))
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("dev_caps.txt"), r.stderr)
    }

    func testMissingImageFileIsNamed() throws {
        let root = try copyInput("images")
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/test_00001.jpg"))
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("test_00001.jpg") && r.stderr.contains("missing"), r.stderr)
    }

    func testSkipBadDropsMissingImagesWithTheirCaptions() throws {
        let root = try copyInput("images")
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/train_00002.jpg"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/test_00000.jpg"))
        let (r, out) = try ingest(root, "images", ["--skip-bad"], expect: 0)
        XCTAssertTrue(r.stdout.contains("train\t3 images\t15 captions (K=5)\tpixels 24x24\t1 missing\t5 captions dropped"), r.stdout)
        XCTAssertTrue(r.stdout.contains("test\t1 images\t5 captions (K=5)\tpixels 24x24\t1 missing\t5 captions dropped"), r.stdout)
        XCTAssertTrue(r.stderr.contains("train_00002.jpg") && r.stderr.contains("missing"), r.stderr)
        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        XCTAssertEqual(try corpus.split("train").captionCount, 15)
        XCTAssertEqual(try corpus.split("test").captionCount, 5)
        let test = try TensorFileReader(path: out.appendingPathComponent("images-test.tzst").path)
        XCTAssertEqual(test.metadata["dropped"], "1")
        XCTAssertEqual(try test.info("pixels").shape, [1, 24, 24, 3])
        // Every image of a split missing is still an error, even with --skip-bad.
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/test_00001.jpg"))
        let (r2, _) = try ingest(root, "images", ["--skip-bad"], expect: 1)
        XCTAssertTrue(r2.stderr.contains("test_images.txt") && r2.stderr.contains("no image"), r2.stderr)
    }

    func testCaptionCountNotDivisibleByK() throws {
        let root = try copyInput("images")
        try editLines(root.appendingPathComponent("train_caps.txt")) { $0.append("one caption too many") }
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("train_caps.txt") && r.stderr.contains("not a multiple of K=5"), r.stderr)
        // Divisible, but not K per listed image.
        try editLines(root.appendingPathComponent("train_caps.txt")) { $0.removeLast(6) }
        let (r2, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r2.stderr.contains("15 captions for 4 images"), r2.stderr)
    }

    func testEmptyCaptionNamesFileAndLine() throws {
        let root = try copyInput("images")
        try editLines(root.appendingPathComponent("test_caps.txt")) { $0[6] = "   " }
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("test_caps.txt: line 7: empty caption"), r.stderr)
    }

    func testUnknownWordsMapToUnkAndAreCounted() throws {
        let root = try copyInput("images")
        func unknownInDev(_ stderr: String) -> Int? {
            guard let line = stderr.split(separator: "\n").first(where: { $0.contains("ingest: dev: ") }),
                  let n = line.split(separator: " ").dropFirst(2).first else { return nil }
            return Int(n)
        }
        let (before, _) = try ingest(root, "images", expect: 0)
        let replaced = String(try String(contentsOf: root.appendingPathComponent("dev_caps.txt"), encoding: .utf8)
            .split(separator: "\n")[0])
        try editLines(root.appendingPathComponent("dev_caps.txt")) { $0[0] = "a zyzzyva and a quokka" }
        let (r, out) = try ingest(root, "images", expect: 0)
        let (b, a) = (unknownInDev(before.stderr), unknownInDev(r.stderr))
        XCTAssertNotNil(a, r.stderr)
        XCTAssertNotNil(b, before.stderr)
        // The new caption brings exactly two unknown words; the replaced one takes its own away.
        let vocab = try Vocabulary.load(out.appendingPathComponent("vocab.json").path)
        let lostUnknown = Tokenizer.tokenize(replaced).filter { vocab.id($0) == nil }.count
        XCTAssertEqual((a ?? 0) - (b ?? 0), 2 - lostUnknown, r.stderr)
        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        let first = Array(try corpus.split("dev").caption(0))
        XCTAssertEqual(first.count, 7)
        XCTAssertEqual(first[2], 3)
        XCTAssertEqual(first[5], 3)
    }

    /// A file given as the data set's folder said "no caption file" inside it.
    func testARootThatIsAFileIsNamedAsOne() throws {
        let file = work.appendingPathComponent("root-is-a-file")
        try Data("x".utf8).write(to: file)
        let out = work.appendingPathComponent("out-root-is-a-file")
        let r = try stage("mscn-ingest", ["--layout", "images", "--root", file.path, "--out-dir", out.path], expect: 64)
        XCTAssertTrue(r.stderr.contains("root-is-a-file: a file, not a folder"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    /// A folder where a listed JPEG should be says so (it said only "cannot read").
    func testAFolderListedAsAnImageIsNamedAsOne() throws {
        let root = try copyInput("images")
        let image = root.appendingPathComponent("images/train_00001.jpg")
        try FileManager.default.removeItem(at: image)
        try FileManager.default.createDirectory(at: image, withIntermediateDirectories: false)
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("train_00001.jpg: Is a directory"), r.stderr)
        let (skipped, _) = try ingest(root, "images", ["--skip-bad"], expect: 0)
        XCTAssertTrue(skipped.stdout.contains("1 undecodable\t5 captions dropped"), skipped.stdout)
    }

    func testCorruptJPEGFailsOrIsSkippedWithItsCaptions() throws {
        let root = try copyInput("images")
        let (_, clean) = try ingest(root, "images", expect: 0)
        try Data("this is not a jpeg".utf8).write(to: root.appendingPathComponent("images/train_00001.jpg"))
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("train_00001.jpg"), r.stderr)

        let (skipped, out) = try ingest(root, "images", ["--skip-bad"], expect: 0)
        XCTAssertTrue(skipped.stdout.contains("1 undecodable\t5 captions dropped"), skipped.stdout)
        XCTAssertTrue(skipped.stderr.contains("train_00001.jpg"), skipped.stderr)
        let pixels = try TensorFileReader(path: out.appendingPathComponent("images-train.tzst").path).read("pixels")
        XCTAssertEqual(pixels.shape, [3, 24, 24, 3])
        let full = try TensorFileReader(path: clean.appendingPathComponent("images-train.tzst").path).read("pixels")
        let image = 24 * 24 * 3
        XCTAssertEqual(pixels.bytes, Array(full.bytes[0..<image] + full.bytes[(2 * image)...]), "images 0, 2, 3 kept in order")
        let a = try Corpus.load(out.appendingPathComponent("corpus.tzst").path).split("train")
        let b = try Corpus.load(clean.appendingPathComponent("corpus.tzst").path).split("train")
        XCTAssertEqual(a.captionCount, 15)
        // Compare as words: the vocabulary itself changes when captions leave the training set.
        let wordsA = try Vocabulary.load(out.appendingPathComponent("vocab.json").path).words
        let wordsB = try Vocabulary.load(clean.appendingPathComponent("vocab.json").path).words
        let kept = [0, 2, 3].flatMap { i in (5 * i)..<(5 * i + 5) }
        XCTAssertEqual((0..<15).map { a.caption($0).map { wordsA[Int($0)] } }, kept.map { b.caption($0).map { wordsB[Int($0)] } })
    }

    func testTruncatedJPEGFailsNamingTheFile() throws {
        let root = try copyInput("images")
        let path = root.appendingPathComponent("images/dev_00000.jpg")
        let bytes = try Data(contentsOf: path)
        try bytes.prefix(bytes.count * 3 / 4).write(to: path)
        let (r, _) = try ingest(root, "images", expect: 1)
        XCTAssertTrue(r.stderr.contains("dev_00000.jpg"), r.stderr)
    }

    /// A caption of unknown words only is named in a warning; a vocabulary that knows no word of
    /// a split (a wrong --vocab, a --min-count above every count) is an error.
    func testCaptionsOfUnknownWordsOnly() throws {
        let root = try copyInput("images")
        try editLines(root.appendingPathComponent("dev_caps.txt")) { $0[2] = "zyzzyva quokka" }
        let (r, _) = try ingest(root, "images", expect: 0)
        XCTAssertTrue(r.stderr.contains("warning: dev: 1 caption(s) of unknown words only (all <unk>), line(s) 3 of ")
                      && r.stderr.contains("dev_caps.txt"), r.stderr)
        let (none, _) = try ingest(root, "images", ["--min-count", "100000"], expect: 1)
        XCTAssertTrue(none.stderr.contains("train_caps.txt: train: every word of every caption is unknown to a vocabulary of words seen at least 100000 times"), none.stderr)
    }

    /// NaN or infinite precomp features are refused at ingest, by row, before anything trains on them.
    func testPrecompNonFiniteFeaturesAreRefused() throws {
        let root = try copyInput("precomp")
        let npy = root.appendingPathComponent("dev_ims.npy")
        let t = try NPY.read(npy.path)
        var values = try t.floats()
        let perRow = t.shape.dropFirst().reduce(1, *)
        values[perRow + 3] = .nan
        try NPY.write(StoredTensor(name: "x", shape: t.shape, floats: values), to: npy.path)
        let (r, _) = try ingest(root, "precomp", expect: 1)
        XCTAssertTrue(r.stderr.contains("dev_ims.npy: feature nan in row 1: features must be finite"), r.stderr)
    }

    func testPrecompWrongShapeAndTruncatedNPY() throws {
        let root = try copyInput("precomp")
        let npy = root.appendingPathComponent("test_ims.npy")
        try NPY.write(StoredTensor(name: "x", shape: [2, 24], floats: [Float](repeating: 1, count: 48)), to: npy.path)
        let (r, _) = try ingest(root, "precomp", expect: 1)
        XCTAssertTrue(r.stderr.contains("test_ims.npy") && r.stderr.contains("[N, regions, dim]"), r.stderr)
        try NPY.write(StoredTensor(name: "x", shape: [2, 4, 6], floats: [Float](repeating: 1, count: 48)), to: npy.path)
        let data = try Data(contentsOf: npy)
        try data.prefix(data.count - 10).write(to: npy)
        let (r2, _) = try ingest(root, "precomp", expect: 1)
        XCTAssertTrue(r2.stderr.contains("test_ims.npy"), r2.stderr)
        try FileManager.default.removeItem(at: npy)
        let (r3, _) = try ingest(root, "precomp", expect: 1)
        XCTAssertTrue(r3.stderr.contains("test_ims.npy") && r3.stderr.contains("no such file"), r3.stderr)
    }

    func testPrecompTSVCaptionsAndMetaSplit() throws {
        let root = try copyInput("precomp")
        // CC152K style: one caption per image, "id<TAB>caption".
        for (split, n) in [("train", 3), ("dev", 3), ("test", 2), ("meta", 2)] {
            try? FileManager.default.removeItem(at: root.appendingPathComponent("\(split)_caps.txt"))
            let lines = (0..<n).map { "img\($0)\ta red circle number \($0)" }
            try (lines.joined(separator: "\n") + "\n").write(to: root.appendingPathComponent("\(split)_caps.tsv"), atomically: true, encoding: .utf8)
        }
        try NPY.write(StoredTensor(name: "m", shape: [2, 4, 6], floats: [Float](repeating: 0.5, count: 48)),
                      to: root.appendingPathComponent("meta_ims.npy").path)
        let (_, out) = try ingest(root, "precomp", expect: 0)
        let corpus = try Corpus.load(out.appendingPathComponent("corpus.tzst").path)
        XCTAssertEqual(Set(corpus.splits.keys), ["train", "dev", "test", "meta"])
        XCTAssertEqual(try corpus.split("meta").captionsPerImage, 1)
        XCTAssertEqual(try corpus.split("meta").captionCount, 2)
        XCTAssertEqual(try TensorFileReader(path: out.appendingPathComponent("images-meta.tzst").path).info("features").shape, [2, 4, 6])
        // A tsv line without a tab is reported with its line number.
        try "img0\tfine\nno tab here\nimg2\tfine\n".write(to: root.appendingPathComponent("train_caps.tsv"), atomically: true, encoding: .utf8)
        let (r, _) = try ingest(root, "precomp", expect: 1)
        XCTAssertTrue(r.stderr.contains("train_caps.tsv: line 2"), r.stderr)
    }

    func testFeaturesBadInputs() throws {
        let out = work.appendingPathComponent("f.tzst").path
        let missing = try stage("mscn-features", ["--images", work.appendingPathComponent("nope.tzst").path, "--out", out], expect: 1)
        XCTAssertTrue(missing.stderr.contains("nope.tzst") && missing.stderr.contains("no such file"), missing.stderr)

        let wrong = work.appendingPathComponent("wrong.tzst").path
        try TensorFiles.write(wrong, [StoredTensor(name: "pixels", shape: [2, 8, 8], uint8s: [UInt8](repeating: 7, count: 128))])
        let r = try stage("mscn-features", ["--images", wrong, "--out", out], expect: 1)
        XCTAssertTrue(r.stderr.contains("wrong.tzst") && r.stderr.contains("[N,H,W,3]"), r.stderr)

        let good = work.appendingPathComponent("good.tzst").path
        try TensorFiles.write(good, [StoredTensor(name: "pixels", shape: [2, 12, 12, 3], uint8s: (0..<864).map { UInt8($0 % 251) })])
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = work.appendingPathComponent("cut.tzst").path
        try data.prefix(data.count - 20).write(to: URL(fileURLWithPath: cut))
        let r2 = try stage("mscn-features", ["--images", cut, "--out", out], expect: 1)
        XCTAssertTrue(r2.stderr.contains("cut.tzst"), r2.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        try stage("mscn-features", ["--images", good, "--out", out])
        XCTAssertEqual(try TensorFileReader(path: out).info("features").shape, [2, 36, 128])
        let v = try stage("mscn-features", ["--images", good, "--out", out, "--dim", "0"], expect: 64)
        XCTAssertTrue(v.stderr.contains("--dim"), v.stderr)

        let empty = work.appendingPathComponent("empty.tzst").path, emptyOut = work.appendingPathComponent("f0.tzst").path
        try TensorFiles.write(empty, [StoredTensor(name: "pixels", shape: [0, 12, 12, 3], uint8s: [])])
        let none = try stage("mscn-features", ["--images", empty, "--out", emptyOut], expect: 1)
        XCTAssertTrue(none.stderr.contains("empty.tzst: holds no images"), none.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: emptyOut))
    }
}

/// Colour spaces other than YCbCr inside an images-layout folder.
final class ColourSpaceStageTests: XCTestCase {
    func testGrayscaleAndCMYKImagesAreIngestedAsRGB() throws {
        let work = TestPaths.temporaryDirectory("colour")
        let root = work.appendingPathComponent("images")
        try Golden.copy(Golden.folder("images", "input"), to: root)
        let gray = try JPEG.encode(samples: [UInt8](repeating: 90, count: 32 * 32), width: 32, height: 32, components: 1, quality: 95)
        try Data(gray).write(to: root.appendingPathComponent("images/train_00000.jpg"))
        var inks: [UInt8] = []
        for _ in 0..<(32 * 32) { inks += [40, 200, 120, 255] }  // Adobe (inverted) CMYK for RGB (40, 200, 120)
        let cmyk = try JPEG.encode(samples: inks, width: 32, height: 32, components: 4, quality: 95)
        try Data(cmyk).write(to: root.appendingPathComponent("images/train_00001.jpg"))
        let out = work.appendingPathComponent("out")
        try stage("mscn-ingest", ["--layout", "images", "--root", root.path, "--out-dir", out.path, "--image-size", "16"])
        let pixels = try TensorFileReader(path: out.appendingPathComponent("images-train.tzst").path).read("pixels").bytes
        let image = 16 * 16 * 3
        for i in 0..<(16 * 16) {
            XCTAssertEqual(Int(pixels[3 * i]), 90, accuracy: 2)
            XCTAssertEqual(pixels[3 * i], pixels[3 * i + 2])
            XCTAssertEqual(Int(pixels[image + 3 * i]), 40, accuracy: 4)
            XCTAssertEqual(Int(pixels[image + 3 * i + 1]), 200, accuracy: 4)
            XCTAssertEqual(Int(pixels[image + 3 * i + 2]), 120, accuracy: 4)
        }
    }
}
