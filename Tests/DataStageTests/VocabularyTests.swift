import Captions
import Foundation
import TestSupport
import XCTest

final class VocabularyTests: XCTestCase {
    func testBuildKeepsFrequentWordsInFirstSeenOrder() throws {
        let captions = [["b", "a", "c"], ["a", "b"], ["a", "d"]]
        let v = try Vocabulary.build(from: captions, minCount: 2)
        XCTAssertEqual(v.words, ["<pad>", "<start>", "<end>", "<unk>", "b", "a"])
        let (ids, unknown) = v.encode(["a", "c", "b"])
        XCTAssertEqual(ids, [1, 5, 3, 4, 2])
        XCTAssertEqual(unknown, 1)
    }

    func testJSONRoundTripAndReferenceFormat() throws {
        let dir = TestPaths.temporaryDirectory("vocab")
        let v = try Vocabulary(words: Vocabulary.specials + ["a", "say \"hi\"", "é"])
        let path = dir.appendingPathComponent("v.json").path
        try Data(v.json().utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try Vocabulary.load(path), v)
        // What Python's json.dump writes: keys unordered, idx2word keyed by strings.
        let python = #"{"idx": 5, "idx2word": {"4": "dog", "0": "<pad>", "1": "<start>", "2": "<end>", "3": "<unk>"}, "word2idx": {"dog": 4, "<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3}}"#
        try Data(python.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try Vocabulary.load(path).words, Vocabulary.specials + ["dog"])
        let decoded = try JSONSerialization.jsonObject(with: Data(v.json().utf8)) as? [String: Any]
        XCTAssertEqual(decoded?["idx"] as? Int, 7)
        XCTAssertEqual((decoded?["idx2word"] as? [String: String])?["5"], "say \"hi\"")
    }

    func testBadVocabularyFilesNameTheFile() throws {
        let dir = TestPaths.temporaryDirectory("vocab")
        let path = dir.appendingPathComponent("bad.json").path
        for text in ["not json", #"{"word2idx": {}}"#,
                     #"{"idx2word": {"0": "<start>", "1": "<pad>", "2": "<end>", "3": "<unk>"}, "idx": 4}"#,
                     #"{"idx2word": {"0": "<pad>", "1": "<start>", "2": "<end>", "5": "<unk>"}, "idx": 4}"#] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Vocabulary.load(path), text) { error in
                XCTAssertTrue("\(error)".contains(path), "\(error)")
            }
        }
        XCTAssertThrowsError(try Vocabulary.load(dir.appendingPathComponent("missing.json").path))
    }

    func testCaptionFilesWithWindowsLineEndsAndTrailingBlankLines() throws {
        let dir = TestPaths.temporaryDirectory("caps")
        let path = dir.appendingPathComponent("train_caps.txt").path
        try Data("a red circle\r\na blue box\r\n\r\n".utf8).write(to: URL(fileURLWithPath: path))
        let file = try CaptionFile.read(path)
        XCTAssertEqual(file.captions, ["a red circle", "a blue box"])
        try Data("one\n\nthree\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try CaptionFile.read(path)) { e in
            XCTAssertEqual("\(e)", "\(path): line 2: empty caption")
        }
        let tsv = dir.appendingPathComponent("train_caps.tsv").path
        try Data("17\ta dog runs\r\n18\ta cat sits\n".utf8).write(to: URL(fileURLWithPath: tsv))
        XCTAssertEqual(try CaptionFile.read(tsv).captions, ["a dog runs", "a cat sits"])
    }
}
