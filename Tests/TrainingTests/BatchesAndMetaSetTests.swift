import Artefacts
import MSCNRandom
@testable import Training
import XCTest

final class BatchesAndMetaSetTests: XCTestCase {
    func testEpochCoversEveryCaptionOnceAndDropsSingleton() {
        var g = SeededGenerator(seed: 1)
        let batches = BatchPlan.epoch(captions: Array(0..<21), imageOf: { $0 / 5 }, batchSize: 4, generator: &g)
        XCTAssertEqual(batches.count, 5)  // 5 full batches, the lone 21st caption is dropped
        let seen = batches.flatMap(\.captionIndices)
        XCTAssertEqual(Set(seen).count, 20)
        for b in batches { XCTAssertEqual(b.imageIndices, b.captionIndices.map { $0 / 5 }) }
    }

    func testEpochIsDeterministic() {
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let x = BatchPlan.epoch(captions: Array(0..<50), imageOf: { $0 }, batchSize: 8, generator: &a)
        let y = BatchPlan.epoch(captions: Array(0..<50), imageOf: { $0 }, batchSize: 8, generator: &b)
        XCTAssertEqual(x.map(\.captionIndices), y.map(\.captionIndices))
    }

    func testLearningRateSchedule() {
        XCTAssertEqual(scheduledLearningRate(base: 2e-4, epoch: 0, decayEvery: 30), 2e-4)
        XCTAssertEqual(scheduledLearningRate(base: 2e-4, epoch: 29, decayEvery: 30), 2e-4)
        XCTAssertEqual(scheduledLearningRate(base: 2e-4, epoch: 30, decayEvery: 30), 2e-5, accuracy: 1e-12)
        XCTAssertEqual(scheduledLearningRate(base: 2e-4, epoch: 61, decayEvery: 30), 2e-6, accuracy: 1e-13)
    }

    private func split(_ n: Int) -> MetaSplit {
        MetaSplit(source: Array(repeating: 1, count: n), caption: (0..<n).map { Int64($0) },
                  image: (0..<n).map { Int64($0 / 5) }, trainKeep: [], devSelect: [])
    }

    func testMetaSetHalfPositiveAndNegativesAvoidOwnImage() throws {
        let m = try MetaSet.forRound(split(20), trainCaptions: 500, captionsPerImage: 5, trainImages: 100,
                                     seed: 3, round: 1, referenceNegativeCheck: false)
        XCTAssertEqual(m.positives.count, 20)
        XCTAssertEqual(m.negatives.count, 20)
        XCTAssertEqual(Set(m.negatives.map(\.caption)).count, 20, "negative captions are drawn without replacement")
        for n in m.negatives { XCTAssertNotEqual(n.image, n.caption / 5) }
    }

    func testReferenceCheckComparesCaptionIndexWithImage() throws {
        let m = try MetaSet.forRound(split(30), trainCaptions: 40, captionsPerImage: 5, trainImages: 8,
                                     seed: 5, round: 2, referenceNegativeCheck: true)
        for n in m.negatives { XCTAssertNotEqual(n.image, n.caption) }
    }

    func testNegativesRedrawnPerRound() throws {
        let a = try MetaSet.forRound(split(20), trainCaptions: 500, captionsPerImage: 5, trainImages: 100, seed: 3, round: 1)
        let b = try MetaSet.forRound(split(20), trainCaptions: 500, captionsPerImage: 5, trainImages: 100, seed: 3, round: 2)
        let a2 = try MetaSet.forRound(split(20), trainCaptions: 500, captionsPerImage: 5, trainImages: 100, seed: 3, round: 1)
        XCTAssertNotEqual(a.negatives, b.negatives)
        XCTAssertEqual(a.negatives, a2.negatives)
    }

    func testMetaBatchIndicesNameTheShuffledPairs() throws {
        let m = try MetaSet.forRound(split(21), trainCaptions: 500, captionsPerImage: 5, trainImages: 100, seed: 3, round: 1)
        // The pairs shuffled directly with the stream, as `batches` drew them before positions existed.
        var order = m.pairs
        var g = SeededGenerator(seed: 3, stream: "meta-batches-B-1")
        g.shuffle(&order)
        let direct = stride(from: 0, to: order.count, by: 8).map { Array(order[$0..<min($0 + 8, order.count)]) }
        let positions = m.batchIndices(size: 8, seed: 3, round: 1, net: "B")
        XCTAssertEqual(positions.map { $0.map { m.pairs[$0] } }, direct)
        XCTAssertEqual(m.batches(size: 8, seed: 3, round: 1, net: "B"), direct)
        XCTAssertEqual(positions.flatMap { $0 }.sorted(), Array(m.pairs.indices))
    }

    func testEmptyMetaSetIsAnError() {
        XCTAssertThrowsError(try MetaSet.forRound(split(0), trainCaptions: 10, captionsPerImage: 5, trainImages: 2, seed: 0, round: 1))
    }
}
