import Captions
import XCTest

final class TokenizerTests: XCTestCase {
    func testLowerCasesAndSplitsPunctuation() {
        XCTAssertEqual(Tokenizer.tokenize("A Dog, running. Fast!"), ["a", "dog", ",", "running", ".", "fast", "!"])
        XCTAssertEqual(Tokenizer.tokenize("two  shapes:\ta red circle; a box?"),
                       ["two", "shapes", ":", "a", "red", "circle", ";", "a", "box", "?"])
    }

    func testSplitsCliticsLikeTreebank() {
        XCTAssertEqual(Tokenizer.tokenize("don't"), ["do", "n't"])
        XCTAssertEqual(Tokenizer.tokenize("The dog's ball"), ["the", "dog", "'s", "ball"])
        XCTAssertEqual(Tokenizer.tokenize("they're here, I'll go"), ["they", "'re", "here", ",", "i", "'ll", "go"])
        XCTAssertEqual(Tokenizer.tokenize("I cannot"), ["i", "can", "not"])
        XCTAssertEqual(Tokenizer.tokenize("the dogs' toys"), ["the", "dogs", "'", "toys"])
    }

    func testQuotesAndNumbers() {
        XCTAssertEqual(Tokenizer.tokenize("a \"big\" sign"), ["a", "\"", "big", "\"", "sign"])
        XCTAssertEqual(Tokenizer.tokenize("'hello'"), ["'", "hello", "'"])
        XCTAssertEqual(Tokenizer.tokenize("2.5 meters tall."), ["2.5", "meters", "tall", "."])
        XCTAssertEqual(Tokenizer.tokenize("a t-shirt -- wow..."), ["a", "t-shirt", "--", "wow", "..."])
    }

    func testWhitespaceOnlyGivesNoTokens() {
        XCTAssertEqual(Tokenizer.tokenize("  \t "), [])
    }
}
