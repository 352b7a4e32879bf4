import Foundation
import MSCNRandom
import Retrieval
import XCTest

/// Ranks and metrics on hand-made matrices and against a sort-based reference.
final class RetrievalTests: XCTestCase {
    func testHandMadeRanks() throws {
        // 2 images, K = 2: captions 0,1 → image 0; captions 2,3 → image 1.
        let s: [Float] = [
            0.1, 0.9, 0.8, 0.2,   // image 0: best own caption is 1 (0.9), rank 0
            0.7, 0.6, 0.3, 0.5,   // image 1: own captions 2 (0.3), 3 (0.5); 0.7 and 0.6 above 0.5 → rank 2
        ]
        XCTAssertEqual(try Retrieval.imageToTextRanks(scores: s, images: 2, captionsPerImage: 2), [0, 2])
        // caption 0: image 0 scores 0.1 vs image 1 0.7 → rank 1; caption 1: 0.9 vs 0.6 → 0;
        // caption 2: own image 1 scores 0.3 vs 0.8 → 1; caption 3: 0.5 vs 0.2 → 0.
        XCTAssertEqual(try Retrieval.textToImageRanks(scores: s, images: 2, captionsPerImage: 2), [1, 0, 1, 0])
        let m = try Retrieval.evaluate(scores: s, images: 2, captionsPerImage: 2)
        XCTAssertEqual(m.i2tR1, 50)
        XCTAssertEqual(m.i2tR5, 100)
        XCTAssertEqual(m.i2tMedianRank, 2, "floor(median(0, 2)) + 1 = floor(1) + 1")
        XCTAssertEqual(m.i2tMeanRank, 2)
        XCTAssertEqual(m.t2iR1, 50)
        XCTAssertEqual(m.t2iMedianRank, 1, "floor(median(0,0,1,1) = 0.5) + 1")
        XCTAssertEqual(m.t2iMeanRank, 1.5)
        XCTAssertEqual(m.rsum, 50 + 100 + 100 + 50 + 100 + 100)
    }

    func testTiesGoToTheLowerIndex() throws {
        // Every score equal: candidates order by index.
        let s = [Float](repeating: 0.5, count: 3 * 3)
        XCTAssertEqual(try Retrieval.imageToTextRanks(scores: s, images: 3, captionsPerImage: 1), [0, 1, 2])
        XCTAssertEqual(try Retrieval.textToImageRanks(scores: s, images: 3, captionsPerImage: 1), [0, 1, 2])
    }

    func testBadMatricesThrow() {
        XCTAssertThrowsError(try Retrieval.evaluate(scores: [1, 2, 3], images: 2, captionsPerImage: 1))
        XCTAssertThrowsError(try Retrieval.evaluate(scores: [], images: 0, captionsPerImage: 5))
        XCTAssertThrowsError(try Retrieval.evaluate(scores: [1, .nan, 0, 1], images: 2, captionsPerImage: 1))
        XCTAssertThrowsError(try Retrieval.evaluateFolds(scores: [Float](repeating: 0, count: 9), images: 3,
                                                         captionsPerImage: 1, foldImages: 2))
    }

    /// Ranks by sorting every candidate list (score descending, index ascending) and searching it.
    func sortedReference(_ s: [Float], _ n: Int, _ k: Int) -> (i2t: [Int], t2i: [Int]) {
        let m = n * k
        var i2t: [Int] = [], t2i: [Int] = []
        for i in 0..<n {
            let order = (0..<m).sorted { s[i * m + $0] != s[i * m + $1] ? s[i * m + $0] > s[i * m + $1] : $0 < $1 }
            i2t.append(order.firstIndex { $0 / k == i } ?? -1)
        }
        for j in 0..<m {
            let order = (0..<n).sorted { s[$0 * m + j] != s[$1 * m + j] ? s[$0 * m + j] > s[$1 * m + j] : $0 < $1 }
            t2i.append(order.firstIndex(of: j / k) ?? -1)
        }
        return (i2t, t2i)
    }

    func testRandomMatrixAgainstSortedReference() throws {
        var g = SeededGenerator(seed: 11, stream: "retrieval-test")
        let n = 40, k = 5
        // Coarse values so ties occur; a diagonal boost so recalls are not trivial.
        var s = [Float](repeating: 0, count: n * n * k)
        for idx in s.indices {
            let i = idx / (n * k), j = idx % (n * k)
            let boost: Float = j / k == i ? 0.3 : 0
            s[idx] = Float(g.below(20)) / 20 + boost
        }
        let want = sortedReference(s, n, k)
        XCTAssertEqual(try Retrieval.imageToTextRanks(scores: s, images: n, captionsPerImage: k), want.i2t)
        XCTAssertEqual(try Retrieval.textToImageRanks(scores: s, images: n, captionsPerImage: k), want.t2i)

        let m = try Retrieval.evaluate(scores: s, images: n, captionsPerImage: k)
        func recall(_ r: [Int], _ top: Int) -> Double { 100 * Double(r.filter { $0 < top }.count) / Double(r.count) }
        XCTAssertEqual(m.i2tR5, recall(want.i2t, 5), accuracy: 1e-12)
        XCTAssertEqual(m.t2iR10, recall(want.t2i, 10), accuracy: 1e-12)
        let sorted = want.t2i.sorted()
        XCTAssertEqual(m.t2iMedianRank, Double((sorted[99] + sorted[100]) / 2) + 1, "even count: floor of the mean of the middle two")
        XCTAssertEqual(m.t2iMeanRank, Double(want.t2i.reduce(0, +)) / 200 + 1, accuracy: 1e-12)
    }

    func testFoldsRankWithinTheirBlockAndAverage() throws {
        var g = SeededGenerator(seed: 5, stream: "retrieval-folds")
        let n = 20, k = 2, fold = 10
        let s: [Float] = (0..<(n * n * k)).map { _ in g.unitFloat() }
        let result = try Retrieval.evaluateFolds(scores: s, images: n, captionsPerImage: k, foldImages: fold)
        XCTAssertEqual(result.folds.count, 2)
        for f in 0..<2 {
            var block: [Float] = []
            for i in (f * fold)..<((f + 1) * fold) {
                let rowStart: Int = i * n * k
                let lo: Int = rowStart + f * fold * k
                block.append(contentsOf: s[lo..<(lo + fold * k)])
            }
            XCTAssertEqual(result.folds[f], try Retrieval.evaluate(scores: block, images: fold, captionsPerImage: k))
        }
        XCTAssertEqual(result.mean.i2tMedianRank, (result.folds[0].i2tMedianRank + result.folds[1].i2tMedianRank) / 2)
        XCTAssertEqual(result.mean.rsum, (result.folds[0].rsum + result.folds[1].rsum) / 2, accuracy: 1e-9)
    }

    func testJSONKeysAndTable() throws {
        let m = RetrievalMetrics(imageToTextRanks: [0, 3, 12], textToImageRanks: [1, 0, 0, 7, 20, 2])
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(m)) as? [String: Any])
        XCTAssertEqual(Set(obj.keys), ["i2t_r1", "i2t_r5", "i2t_r10", "i2t_medr", "i2t_meanr",
                                       "t2i_r1", "t2i_r5", "t2i_r10", "t2i_medr", "t2i_meanr", "rsum"])
        XCTAssertEqual(try JSONDecoder().decode(RetrievalMetrics.self, from: JSONEncoder().encode(m)), m)
        let table = m.table(title: "dev")
        XCTAssertTrue(table.contains("rSum"))
        XCTAssertTrue(table.contains(String(format: "%.2f", m.rsum)))
    }
}
