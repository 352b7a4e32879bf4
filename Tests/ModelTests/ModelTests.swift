import Engine
import MSCN
import MSCNRandom
import TensorFile
import TestSupport
import XCTest

/// A tiny model and batches for fast end-to-end checks.
enum Tiny {
    static func config(_ v: SimilarityVariant) -> ModelConfig {
        var c = ModelConfig(imageDim: 8, embedDim: 10, wordDim: 4, simDim: 12, vocabSize: 20, variant: v, metaHidden: 8, regions: 3)
        c.sgrSteps = 2
        return c
    }

    static func batch(_ n: Int, seed: UInt64) -> PairBatch {
        var g = SeededGenerator(seed: seed, stream: "tiny-batch")
        let feats = (0..<(n * 3 * 8)).map { _ in g.unitFloat() }
        let caps: [[Int32]] = (0..<n).map { i in [1] + (0..<(1 + i % 4)).map { _ in Int32(4 + g.below(16)) } + [2] }
        return PairBatch(images: ImageBatch(features: feats, count: n, regions: 3, dim: 8), captions: CaptionBatch(tokens: caps))
    }

    static func meta(_ n: Int, seed: UInt64) -> MetaBatch {
        MetaBatch(pairs: batch(n, seed: seed), labels: (0..<n).map { $0 < n / 2 ? 1 : 0 })
    }
}

final class ModelTests: XCTestCase {
    func testTrainingIsDeterministicAndCheckpointResumesBitIdentically() throws {
        for v in [SimilarityVariant.sgr, .saf] {
            let a = Model(config: Tiny.config(v), seed: 7), b = Model(config: Tiny.config(v), seed: 7)
            for m in [a, b] {
                m.warmupStep(Tiny.batch(4, seed: 1), lr: 1e-3)
                _ = m.trainStep(Tiny.batch(4, seed: 2), meta: Tiny.meta(4, seed: 3), lr: 1e-3, metaLR: 1e-4)
            }
            XCTAssertEqual(a.net, b.net)
            XCTAssertEqual(a.meta, b.meta)

            let path = TestPaths.temporaryDirectory("ckpt").appendingPathComponent("a.mscn").path
            try Checkpoint.save(a, to: path, metadata: ["epoch": "1"])
            let (c, meta) = try Checkpoint.load(path)
            XCTAssertEqual(meta["epoch"], "1")
            XCTAssertEqual(c.config, a.config)
            let r1 = a.trainStep(Tiny.batch(4, seed: 4), meta: Tiny.meta(4, seed: 5), lr: 1e-3, metaLR: 1e-4)
            let r2 = c.trainStep(Tiny.batch(4, seed: 4), meta: Tiny.meta(4, seed: 5), lr: 1e-3, metaLR: 1e-4)
            XCTAssertEqual(r1.loss, r2.loss)
            XCTAssertEqual(r1.metaLoss, r2.metaLoss)
            XCTAssertEqual(a.net, c.net)
            XCTAssertEqual(a.meta, c.meta)
            XCTAssertEqual(a.buffers, c.buffers)
            XCTAssertEqual(a.netAdam, c.netAdam)
            XCTAssertEqual(a.dropoutGenerator, c.dropoutGenerator)
        }
    }

    /// Every training forward continues the dropout stream (no two forwards reuse masks).
    func testDropoutStreamAdvancesWithEveryStep() {
        let m = Model(config: Tiny.config(.sgr), seed: 8)
        let g0 = m.dropoutGenerator
        m.warmupStep(Tiny.batch(3, seed: 1), lr: 1e-3)
        let g1 = m.dropoutGenerator
        XCTAssertNotEqual(g0, g1)
        _ = m.trainStep(Tiny.batch(3, seed: 2), meta: Tiny.meta(4, seed: 3), lr: 1e-3, metaLR: 1e-4)
        XCTAssertNotEqual(m.dropoutGenerator, g1)
        let g2 = m.dropoutGenerator
        m.mainStep(Tiny.batch(3, seed: 2), lr: 1e-3)
        XCTAssertNotEqual(m.dropoutGenerator, g2)
        let g3 = m.dropoutGenerator, meta = m.meta
        m.baselineStep(Tiny.batch(3, seed: 5), lr: 1e-3)
        XCTAssertNotEqual(m.dropoutGenerator, g3)
        XCTAssertEqual(m.meta, meta, "the baseline no longer updates the meta net")
    }

    func testTwoModelsShareOneFileUnderPrefixes() throws {
        let a = Model(config: Tiny.config(.sgr), seed: 1), b = Model(config: Tiny.config(.saf), seed: 2)
        b.warmupStep(Tiny.batch(3, seed: 4), lr: 1e-3)
        let path = TestPaths.temporaryDirectory("ckpt-ab").appendingPathComponent("ab.mscn").path
        let meta = try Checkpoint.metadata(of: a, prefix: "A/").merging(Checkpoint.metadata(of: b, prefix: "B/")) { x, _ in x }
        try TensorFiles.write(path, Checkpoint.tensors(of: a, prefix: "A/") + Checkpoint.tensors(of: b, prefix: "B/"), metadata: meta)
        let (m, t) = try TensorFiles.readAll(path)
        let a2 = try Checkpoint.model(tensors: t, metadata: m, prefix: "A/", path: path)
        let b2 = try Checkpoint.model(tensors: t, metadata: m, prefix: "B/", path: path)
        XCTAssertEqual(a2.net, a.net)
        XCTAssertEqual(b2.net, b.net)
        XCTAssertEqual(b2.metaAdam, b.metaAdam)
        XCTAssertEqual(b2.config.variant, .saf)
        XCTAssertThrowsError(try Checkpoint.model(tensors: t, metadata: m, prefix: "C/", path: path)) { e in
            XCTAssertTrue("\(e)".contains("ab.mscn"), "\(e)")
        }
    }

    /// A tensor the configuration does not have (one SGR step more than it says) and a meta
    /// weight stored transposed (same count) are refused by name, not ignored or read as another shape.
    func testLeftOverAndReshapedTensorsAreRefused() throws {
        let m = Model(config: Tiny.config(.sgr), seed: 1)
        let folder = TestPaths.temporaryDirectory("ckpt-extra")
        let good = folder.appendingPathComponent("good.mscn").path
        try Checkpoint.save(m, to: good)
        let (meta, tensors) = try TensorFiles.readAll(good)
        XCTAssertNoThrow(try Checkpoint.load(good))

        var extra = Array(tensors.values)
        guard let step = tensors["net/sim_enc.SGR_module.0.graph_query_w.weight"] else { return XCTFail("no SGR step 0") }
        var more = step
        more.name = "net/sim_enc.SGR_module.\(m.config.sgrSteps).graph_query_w.weight"
        extra.append(more)
        let extraPath = folder.appendingPathComponent("extra.mscn").path
        try TensorFiles.write(extraPath, extra, metadata: meta)
        XCTAssertThrowsError(try Checkpoint.load(extraPath)) { e in
            XCTAssertTrue("\(e)".contains("extra.mscn") && "\(e)".contains("does not have: \(more.name)"), "\(e)")
        }

        guard var w = tensors["meta/first_hidden_layer.fc.weight"] else { return XCTFail("no meta weight") }
        XCTAssertEqual(w.shape.count, 2)
        w.shape = w.shape.reversed()
        let reshaped = folder.appendingPathComponent("reshaped.mscn").path
        try TensorFiles.write(reshaped, tensors.values.map { $0.name == w.name ? w : $0 }, metadata: meta)
        XCTAssertThrowsError(try Checkpoint.load(reshaped)) { e in
            XCTAssertTrue("\(e)".contains("meta/first_hidden_layer.fc.weight has the wrong shape"), "\(e)")
        }
    }

    func testTruncatedCheckpointFailsWithItsName() throws {
        let m = Model(config: Tiny.config(.sgr), seed: 1)
        let path = TestPaths.temporaryDirectory("ckpt-bad").appendingPathComponent("bad.mscn").path
        try Checkpoint.save(m, to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.load(path)) { e in XCTAssertTrue("\(e)".contains("bad.mscn"), "\(e)") }
    }

    func testWarmupReducesLossOnAFixedBatch() {
        let m = Model(config: Tiny.config(.sgr), seed: 3)
        let b = Tiny.batch(6, seed: 9)
        let first = m.warmupStep(b, lr: 1e-2)
        var last = first
        for _ in 0..<15 { last = m.warmupStep(b, lr: 1e-2) }
        XCTAssertLessThan(last, first)
    }

    func testEvalScoresAgreeBetweenAllPairsAndDiagonal() {
        let m = Model(config: Tiny.config(.saf), seed: 4)
        let b = Tiny.batch(5, seed: 11)
        let v = m.encodeImages(b.images), e = m.encodeCaptions(b.captions)
        XCTAssertEqual(v.shape, [5, 3, 10])
        XCTAssertEqual(e.shape, [5, 6, 10])
        let all = m.scores(images: v, captions: e, lengths: b.captions.lengths)
        let diag = m.diagonalScores(images: v, captions: e, lengths: b.captions.lengths)
        XCTAssertEqual(all.shape, [5, 5])
        for i in 0..<5 { XCTAssertEqual(all.data[i * 5 + i], diag[i], accuracy: 1e-6) }
        // A shard of images scores the same as the full matrix's rows (eval mode is per item).
        let shard = m.scores(images: Tensor(shape: [2, 3, 10], data: Array(v.data[(3 * 30)...])), captions: e, lengths: b.captions.lengths)
        for j in 0..<5 { XCTAssertEqual(shard.data[j], all.data[3 * 5 + j], accuracy: 1e-6) }
    }

    func testLookaheadQuirkOptions() {
        var c = Tiny.config(.sgr)
        c.meta.freezeGRUInLookahead = true
        c.meta.clipPseudoGradient = true
        let m = Model(config: c, seed: 5)
        var report = StepReport()
        m.trainStep(Tiny.batch(4, seed: 1), meta: Tiny.meta(4, seed: 2), lr: 1e-3, metaLR: 1e-4, pseudoLR: 10, report: &report)
        for n in ParameterLayout.gruNames { XCTAssertEqual(report.pseudoParams[n], Model(config: c, seed: 5).net[n]) }
        let before = Model(config: c, seed: 5).net
        var d2 = 0.0
        for n in before.names {
            guard let a = before[n]?.data, let b = report.pseudoParams[n]?.data else { continue }
            for (x, y) in zip(a, b) { d2 += Double(x - y) * Double(x - y) }
        }
        XCTAssertLessThanOrEqual(d2.squareRoot(), 10 * 2.0 * 1.001)  // lr · clip
        XCTAssertGreaterThan(d2, 0)
    }
}

final class AdamLookaheadTests: XCTestCase {
    /// Quirk 2 corrected: with Adam moments the look-ahead scales each coordinate by
    /// 1/(sqrt(v̂)+eps); before any Adam step it is the reference's plain SGD step.
    func testAdamPseudoStepUsesMainPreconditioner() {
        var c = Tiny.config(.sgr)
        c.dropout = 0
        c.meta.adamPseudoStep = true
        var plain = c
        plain.meta.adamPseudoStep = false
        let b = Tiny.batch(4, seed: 1), z = Tiny.meta(4, seed: 2)
        var r1 = StepReport(), r2 = StepReport()
        Model(config: c, seed: 3).trainStep(b, meta: z, lr: 1e-3, metaLR: 1e-4, pseudoLR: 0.1, report: &r1)
        Model(config: plain, seed: 3).trainStep(b, meta: z, lr: 1e-3, metaLR: 1e-4, pseudoLR: 0.1, report: &r2)
        XCTAssertEqual(r1.pseudoParams, r2.pseudoParams)

        let m = Model(config: c, seed: 3)
        m.warmupStep(Tiny.batch(4, seed: 7), lr: 1e-3)
        let theta = m.net, adam = m.netAdam
        var r3 = StepReport()
        m.trainStep(b, meta: z, lr: 1e-3, metaLR: 1e-4, pseudoLR: 0.1, report: &r3)
        let n = "img_enc.fc.weight"
        guard let v = adam.v[n], let t = adam.steps[n], let before = theta[n]?.data, let after = r3.pseudoParams[n]?.data else {
            return XCTFail("no Adam state for \(n)")
        }
        // Recover the gradient from the SGD look-ahead of an identical model.
        let twin = Model(config: plain, seed: 3)
        twin.warmupStep(Tiny.batch(4, seed: 7), lr: 1e-3)
        var r4 = StepReport()
        twin.trainStep(b, meta: z, lr: 1e-3, metaLR: 1e-4, pseudoLR: 0.1, report: &r4)
        guard let sgd = r4.pseudoParams[n]?.data else { return XCTFail("no pseudo params") }
        let bc2 = Float((1 - pow(0.999, Double(t))).squareRoot())
        for i in stride(from: 0, to: v.count, by: 7) {
            let g = (before[i] - sgd[i]) / 0.1
            let expected = before[i] - 0.1 * g / (v[i].squareRoot() / bc2 + 1e-8)
            XCTAssertEqual(after[i], expected, accuracy: 1e-4 * max(1, abs(expected)))
        }
    }

    /// A configuration from outside (options, checkpoint metadata, a parity manifest) that cannot
    /// build a model says why, in the reference's option names, instead of trapping in the engine.
    func testConfigurationProblemsAreNamed() {
        XCTAssertEqual(ModelConfig().problems.map(\.description), [])
        var c = ModelConfig(imageDim: 8, embedDim: 0, wordDim: 4, simDim: 4, vocabSize: 10, variant: .sgr, metaHidden: 0, regions: -1)
        c.sgrSteps = 0
        c.margin = .nan
        c.dropout = 1
        XCTAssertEqual(c.problems.map(\.description), ["regions -1 (must be at least 1)", "embed_size 0 (must be at least 1)", "meta_hidden 0 (must be at least 1)",
                                    "sgr_step 0 (SGR needs at least 1)", "dropout 1.0 (must be in [0, 1))",
                                    "margin nan (must be finite and at least 0)"])
        c.variant = .saf
        XCTAssertFalse(c.problems.contains { $0.option == "sgr_step" }, "SAF has no SGR steps")
    }
}
