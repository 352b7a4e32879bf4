import Purification
import XCTest

/// The warm-up regime check's AUC: the Mann–Whitney statistic with ties counted one half.
final class SeparationAUCTests: XCTestCase {
    func auc(_ s: [Float], _ c: [UInt8]) throws -> Double? { try SeparationAUC.auc(scores: s, clean: c) }

    func testPerfectReversedAndHandCountedSeparation() throws {
        XCTAssertEqual(try auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]), 1)
        XCTAssertEqual(try auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]), 0)
        // Clean 0.9, 0.3; noisy 0.5, 0.1: of the 4 clean–noisy pairs, 3 are ordered right.
        XCTAssertEqual(try auc([0.9, 0.5, 0.3, 0.1], [1, 0, 1, 0]), 0.75)
    }

    func testTiesCountOneHalf() throws {
        XCTAssertEqual(try auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5)
        // Clean 0.7, 0.4; noisy 0.4, 0.2: pairs (0.7>0.4) 1, (0.7>0.2) 1, (0.4=0.4) ½, (0.4>0.2) 1 → 3.5 / 4.
        XCTAssertEqual(try auc([0.7, 0.4, 0.4, 0.2], [1, 1, 0, 0]), 0.875)
    }

    /// Agrees with counting every clean–noisy pair directly, on scores with many ties.
    func testMatchesPairCountingWithTies() throws {
        var s: [Float] = [], c: [UInt8] = []
        for i in 0..<200 {
            s.append(Float((i * 37) % 11) / 10)
            c.append(UInt8((i * 13) % 3 == 0 ? 1 : 0))
        }
        var wins = 0.0, pairs = 0.0
        for i in s.indices where c[i] == 1 {
            for j in s.indices where c[j] == 0 {
                pairs += 1
                wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0
            }
        }
        XCTAssertEqual(try XCTUnwrap(try auc(s, c)), wins / pairs, accuracy: 1e-12)
    }

    func testOneEmptyClassHasNoAUC() throws {
        XCTAssertNil(try auc([0.1, 0.9], [1, 1]), "all clean (noise 0): undefined, not 0.5")
        XCTAssertNil(try auc([0.1, 0.9], [0, 0]))
        XCTAssertNil(try auc([], []))
    }

    func testBadInputIsAnError() {
        XCTAssertThrowsError(try auc([0.1, 0.2], [1]))
        XCTAssertThrowsError(try auc([0.1, .nan], [1, 0]))
    }
}
