import MSCN
import TestSupport
import XCTest

/// The reference parity of SPEC §4–6 on the golden dumps (sgr, saf × eval, train).
final class ParityTests: XCTestCase {
    func dump(_ module: String, _ mode: String) throws -> ReferenceDump {
        let dir = TestPaths.parityGolden.appendingPathComponent("\(module)/\(mode)").path
        guard FileManager.default.fileExists(atPath: dir + "/manifest.json") else {
            XCTFail("golden dump missing: \(dir) (Tests/ModelTests/Golden is part of the repository)")
            throw CocoaError(.fileNoSuchFile)
        }
        return try ReferenceDump(directory: dir)
    }

    func assertAllPass(_ module: String, _ mode: String, expectStep: Bool) throws {
        // The models' standard similarity (the fused kernel once merged) and the op-by-op reference.
        try assertAllPass(module, mode, expectStep: expectStep, similarity: SimilarityBackends.standard)
        try assertAllPass(module, mode, expectStep: expectStep, similarity: { _ in ReferenceSimilarity() })
    }

    func assertAllPass(_ module: String, _ mode: String, expectStep: Bool,
                       similarity: (ModelConfig) -> SimilarityBackend) throws {
        let rows = try Parity.run(dump(module, mode), similarity: similarity)
        for r in rows where !r.ok {
            XCTFail("\(module)/\(mode) \(r.name): max abs \(r.maxAbs), rel \(r.relative), \(r.kind.rawValue) tolerance \(r.tolerance)")
        }
        let names = Set(rows.map(\.name))
        XCTAssertTrue(names.contains("out/sims"))
        XCTAssertTrue(names.contains("grad_train/net/txt_enc.cap_rnn.weight_hh_l0_reverse"))
        XCTAssertEqual(names.contains("step/meta_grad (full − direct)"), expectStep)
        XCTAssertEqual(names.contains("step/net_state_after/sim_enc.v_global_w.embedding_local.1.running_var"), expectStep)
        XCTAssertGreaterThan(rows.count, expectStep ? 200 : 80)
    }

    func testSGREval() throws { try assertAllPass("sgr", "eval", expectStep: false) }
    func testSGRTrain() throws { try assertAllPass("sgr", "train", expectStep: true) }
    func testSAFEval() throws { try assertAllPass("saf", "eval", expectStep: false) }
    func testSAFTrain() throws { try assertAllPass("saf", "train", expectStep: true) }

    /// The second-order term does not hinge on one lucky ε: a range of steps around the
    /// default all pass (see `MetaStep.defaultScale` for the measured errors).
    func testFiniteDifferenceScaleIsStable() throws {
        for module in ["sgr", "saf"] {
            for scale: Float in [3e-6, 3e-5] {
                let rows = try Parity.run(dump(module, "train"), finiteDifferenceScale: scale)
                let second = rows.first { $0.name == "step/meta_grad (full − direct)" }
                XCTAssertNotNil(second)
                XCTAssertTrue(second?.ok ?? false, "\(module) at scale \(scale): \(second?.relative ?? .nan)")
            }
        }
    }

    func testParityCommandPassesAndFailsClearly() throws {
        let dir = TestPaths.parityGolden.appendingPathComponent("saf/eval").path
        let ok = try runProduct("mscn", ["parity", dir])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("out/sims"))
        XCTAssertFalse(ok.stdout.contains("FAIL"))

        let missing = try runProduct("mscn", ["parity", "/nonexistent/dump"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("manifest.json"), missing.stderr)
    }

    /// The inference API (no tape for gradients) against the golden eval scores.
    func testEvalAPIMatchesGoldenScores() throws {
        for module in ["sgr", "saf"] {
            for similarity in [SimilarityBackends.standard, { _ in ReferenceSimilarity() }] as [(ModelConfig) -> SimilarityBackend] {
                let d = try dump(module, "eval")
                let c = try d.config()
                let m = try d.model(similarity: similarity(c))
                let b = try d.batch(c, images: "input/images", captions: "input/captions", lengths: "input/lengths")
                let v = m.encodeImages(b.images), e = m.encodeCaptions(b.captions)
                let sims = m.scores(images: v, captions: e, lengths: b.captions.lengths).data
                let ref = try d.tensor("out/sims").data
                XCTAssertEqual(sims.count, ref.count)
                for (a, r) in zip(sims, ref) { XCTAssertEqual(a, r, accuracy: 1e-5, module) }
                let diag = m.diagonalScores(images: v, captions: e, lengths: b.captions.lengths)
                for (a, r) in zip(diag, try d.tensor("out/sims_individual").data) { XCTAssertEqual(a, r, accuracy: 1e-5, module) }
            }
        }
    }

    func testImportedReferenceWeightsLoadAsACheckpoint() throws {
        let dir = TestPaths.parityGolden.appendingPathComponent("sgr/eval").path
        let out = TestPaths.temporaryDirectory("import").appendingPathComponent("ref.mscn").path
        let r = try runProduct("mscn", ["parity", dir, "--save-checkpoint", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (model, meta) = try Checkpoint.load(out)
        let d = try dump("sgr", "eval")
        XCTAssertEqual(model.net["txt_enc.cap_rnn.weight_hh_l0_reverse"], try d.tensor("param/net/txt_enc.cap_rnn.weight_hh_l0_reverse"))
        XCTAssertEqual(model.meta["output_layer.weight"], try d.tensor("param/meta/output_layer.weight"))
        XCTAssertEqual(model.buffers["sim_enc.v_global_w.embedding_local.1"]?.runningVar,
                       try d.tensor("param/net/sim_enc.v_global_w.embedding_local.1.running_var").data)
        XCTAssertEqual(model.config.dropout, 0.4)
        XCTAssertEqual(meta["imported_from"], dir)
    }

    func testCorruptDumpNamesTheProblem() throws {
        let src = TestPaths.parityGolden.appendingPathComponent("sgr/eval")
        let tmp = TestPaths.temporaryDirectory("parity-corrupt")
        for f in try FileManager.default.contentsOfDirectory(atPath: src.path) {
            try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: tmp.appendingPathComponent(f))
        }
        let victim = tmp.appendingPathComponent("param__net__img_enc.fc.weight.npy")
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count - 8).write(to: victim)
        XCTAssertThrowsError(try Parity.run(ReferenceDump(directory: tmp.path))) { e in
            XCTAssertTrue("\(e)".contains("img_enc.fc.weight"), "\(e)")
        }
    }
}
