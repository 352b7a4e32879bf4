import Foundation
import Retrieval
import TestSupport
import XCTest

/// The COCO 1K/5K protocol on a matrix whose metrics were worked out by hand (Golden/folds).
final class FoldMetricGoldenTests: XCTestCase {
    struct Input: Decodable {
        var images: Int
        var captions_per_image: Int
        var fold_images: Int
        var scores: [[Float]]
    }

    struct Expected: Decodable {
        var folds: [RetrievalMetrics]
        var mean: RetrievalMetrics
        var whole: RetrievalMetrics
    }

    func testFoldGolden() throws {
        let dir = TestPaths.packageRoot.appendingPathComponent("Tests/DataPrepTests/Golden/folds")
        let input = try JSONDecoder().decode(Input.self, from: Data(contentsOf: dir.appendingPathComponent("scores.json")))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let scores = input.scores.flatMap { $0 }
        let folds = try Retrieval.evaluateFolds(scores: scores, images: input.images, captionsPerImage: input.captions_per_image,
                                                foldImages: input.fold_images)
        XCTAssertEqual(folds.folds.count, expected.folds.count)
        for (got, want) in zip(folds.folds + [folds.mean], expected.folds + [expected.mean]) { assertClose(got, want) }
        assertClose(try Retrieval.evaluate(scores: scores, images: input.images, captionsPerImage: input.captions_per_image), expected.whole)
    }

    func assertClose(_ a: RetrievalMetrics, _ b: RetrievalMetrics, line: UInt = #line) {
        let pairs: [(String, Double, Double)] = [
            ("i2t_r1", a.i2tR1, b.i2tR1), ("i2t_r5", a.i2tR5, b.i2tR5), ("i2t_r10", a.i2tR10, b.i2tR10),
            ("i2t_medr", a.i2tMedianRank, b.i2tMedianRank), ("i2t_meanr", a.i2tMeanRank, b.i2tMeanRank),
            ("t2i_r1", a.t2iR1, b.t2iR1), ("t2i_r5", a.t2iR5, b.t2iR5), ("t2i_r10", a.t2iR10, b.t2iR10),
            ("t2i_medr", a.t2iMedianRank, b.t2iMedianRank), ("t2i_meanr", a.t2iMeanRank, b.t2iMeanRank),
            ("rsum", a.rsum, b.rsum),
        ]
        for (name, x, y) in pairs { XCTAssertEqual(x, y, accuracy: 1e-9, name, line: line) }
    }
}
