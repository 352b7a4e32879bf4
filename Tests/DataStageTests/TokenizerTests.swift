import Captions
import Foundation
import TestSupport
import XCTest

final class TokenizerTests: XCTestCase {
    /// Every caption of Golden/nltk/captions.txt against NLTK's own tokens (Golden/nltk/README.md).
    func testMatchesNLTKOnTrickyCaptions() throws {
        let dir = TestPaths.packageRoot.appendingPathComponent("Tests/DataStageTests/Golden/nltk")
        let captions = try String(contentsOf: dir.appendingPathComponent("captions.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let expected = try String(contentsOf: dir.appendingPathComponent("expected.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        XCTAssertEqual(captions.count, expected.count)
        XCTAssertGreaterThanOrEqual(captions.count, 25)
        for (caption, want) in zip(captions, expected) {
            XCTAssertEqual(Tokenizer.tokenize(caption), want, caption)
        }
    }

    func testDoubleQuotesBecomeTreebankQuotes() {
        XCTAssertEqual(Tokenizer.tokenize("a \"big\" sign"), ["a", "``", "big", "''", "sign"])
        XCTAssertEqual(Tokenizer.tokenize("\"hi\""), ["``", "hi", "''"])
        XCTAssertEqual(Tokenizer.tokenize("(\"hi\")"), ["(", "``", "hi", "''", ")"])
    }

    func testSplitsCliticsLikeTreebank() {
        XCTAssertEqual(Tokenizer.tokenize("don't"), ["do", "n't"])
        XCTAssertEqual(Tokenizer.tokenize("The dog's ball"), ["the", "dog", "'s", "ball"])
        XCTAssertEqual(Tokenizer.tokenize("they're here, I'll go"), ["they", "'re", "here", ",", "i", "'ll", "go"])
        XCTAssertEqual(Tokenizer.tokenize("I cannot"), ["i", "can", "not"])
        XCTAssertEqual(Tokenizer.tokenize("the dogs' toys"), ["the", "dogs", "'", "toys"])
    }

    func testNumbersAndDashes() {
        XCTAssertEqual(Tokenizer.tokenize("2.5 meters tall."), ["2.5", "meters", "tall", "."])
        XCTAssertEqual(Tokenizer.tokenize("a t-shirt -- wow..."), ["a", "t-shirt", "--", "wow", "..."])
    }

    func testWhitespaceOnlyGivesNoTokens() {
        XCTAssertEqual(Tokenizer.tokenize("  \t "), [])
        XCTAssertEqual(Tokenizer.tokenize(""), [])
    }
}
