import BuiltinDataset
import Foundation
import MSCNRandom
import TestSupport
import XCTest

final class DatasetGeneratorTests: XCTestCase {
    func files(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.subpathsOfDirectory(atPath: dir.path) {
            var isDir: ObjCBool = false
            let path = dir.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                out[name] = FileManager.default.contents(atPath: path)
            }
        }
        return out
    }

    func testCommandIsByteIdenticalForASeedAndWritesTheLayout() throws {
        let a = TestPaths.temporaryDirectory("gen-a"), b = TestPaths.temporaryDirectory("gen-b"), c = TestPaths.temporaryDirectory("gen-c")
        let args = ["dataset", "generate", "--train", "6", "--dev", "3", "--test", "2", "--size", "32"]
        try stage("mscn", args + ["--out", a.path, "--seed", "4"])
        try stage("mscn", args + ["--out", b.path, "--seed", "4"])
        try stage("mscn", args + ["--out", c.path, "--seed", "5"])
        let fa = try files(a)
        XCTAssertEqual(fa, try files(b))
        XCTAssertNotEqual(fa["images/train_00000.jpg"], try files(c)["images/train_00000.jpg"])
        XCTAssertEqual(fa.keys.filter { $0.hasPrefix("images/") }.count, 11)
        for (split, n) in [("train", 6), ("dev", 3), ("test", 2)] {
            let list = String(decoding: fa["\(split)_images.txt"] ?? Data(), as: UTF8.self).split(separator: "\n")
            let caps = String(decoding: fa["\(split)_caps.txt"] ?? Data(), as: UTF8.self).split(separator: "\n")
            XCTAssertEqual(list.count, n)
            XCTAssertEqual(caps.count, 5 * n)
            XCTAssertTrue(caps.allSatisfy { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
        }
        let bad = try stage("mscn", ["dataset", "generate", "--out", a.path, "--train", "0"], expect: 64)
        XCTAssertTrue(bad.stderr.contains("--train"), bad.stderr)
    }

    func testCaptionsNameTheObjectsInVariedWording() {
        let generator = DatasetGenerator(size: 32, seed: 9)
        let colourNames: [ShapeColour: [String]] = [.red: ["red"], .green: ["green"], .blue: ["blue"], .yellow: ["yellow"],
                                                    .purple: ["purple", "violet"], .orange: ["orange"]]
        var distinct = Set<String>()
        for i in 0..<30 {
            let (scene, _, captions) = generator.sample(split: "train", index: i)
            XCTAssertTrue((2...4).contains(scene.objects.count))
            XCTAssertEqual(captions.count, 5)
            XCTAssertEqual(Set(captions).count, 5, "five different captions: \(captions)")
            distinct.formUnion(captions)
            for caption in captions {
                let words = Set(caption.split(whereSeparator: { !$0.isLetter }).map(String.init))
                let named = scene.objects.filter { o in (colourNames[o.colour] ?? []).contains { words.contains($0) } }
                XCTAssertGreaterThanOrEqual(named.count, 2, "\(caption) for \(scene.objects.map { ($0.colour, $0.shape) })")
                // No colour that is not in the scene.
                for (colour, names) in colourNames where !scene.objects.contains(where: { $0.colour == colour }) {
                    XCTAssertFalse(names.contains { words.contains($0) }, "\(caption) mentions absent \(colour)")
                }
            }
        }
        XCTAssertEqual(distinct.count, 150)
    }

    func testRelationsFollowTheLayout() {
        var rng = SeededGenerator(seed: 1)
        var scene = Scene.random(&rng)
        scene.objects = Array(scene.objects.prefix(2))
        scene.objects[0].x = 0.2; scene.objects[0].y = 0.5
        scene.objects[1].x = 0.8; scene.objects[1].y = 0.55
        for _ in 0..<20 {
            for caption in CaptionWriter.captions(scene, rng: &rng) where caption.contains("left") || caption.contains("right") {
                let first = caption.range(of: "left") != nil
                // Whichever object is named first, "left" must describe object 0 relative to object 1.
                let colour0 = "\(scene.objects[0].colour)", colour1 = "\(scene.objects[1].colour)"
                guard let i0 = caption.range(of: colour0 == "purple" && !caption.contains("purple") ? "violet" : colour0)?.lowerBound,
                      let i1 = caption.range(of: colour1 == "purple" && !caption.contains("purple") ? "violet" : colour1)?.lowerBound else { continue }
                XCTAssertEqual(first, i0 < i1, caption)
            }
        }
    }
}
