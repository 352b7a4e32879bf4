import Engine
@testable import MSCN
import XCTest

/// The comparison rows' step: hardest negatives with the fixed margin, into θ and the scorer φ.
final class StandardStepTests: XCTestCase {
    /// The step's loss is the fixed-margin hardest-negative loss of the very forward it trains on
    /// (same dropout masks: the probe forward does not commit the model's dropout stream), not
    /// the adaptive-margin MSCN loss nor the warm-up's sum of means.
    func testStepMinimisesFixedMarginHardestNegatives() {
        for v in [SimilarityVariant.sgr, .saf] {
            let m = Model(config: Tiny.config(v), seed: 21)
            let batch = Tiny.batch(5, seed: 9)
            let g = m.graph(training: true, updateStats: false, netGrads: false, metaGrads: false, dropout: m.freshDropout())
            let s = m.allScores(g, batch)
            let fixed = g.tape.value(Losses.hardestNegative(g.tape, scores: s, margin: m.config.margin))[0]
            let adaptive = g.tape.value(Losses.train(g.tape, scores: s, margin: m.config.margin))[0]
            let warm = g.tape.value(Losses.warmup(g.tape, scores: s, margin: m.config.margin))[0]
            XCTAssertGreaterThan(abs(fixed - adaptive), 1e-4, "the fixture must tell the losses apart")
            XCTAssertGreaterThan(abs(fixed - warm), 1e-4)

            let net0 = m.net, meta0 = m.meta
            let loss = m.standardStep(batch, lr: 1e-3)
            XCTAssertEqual(loss, fixed, accuracy: 1e-5 * max(1, abs(fixed)))
            XCTAssertNotEqual(m.net, net0, "θ is trained")
            XCTAssertNotEqual(m.meta, meta0, "the scorer head is part of the net and trained with it")
        }
    }
}
