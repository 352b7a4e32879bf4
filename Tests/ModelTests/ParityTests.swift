import MSCN
import TestSupport
import XCTest

/// The reference parity of SPEC §4–6 on the golden dumps (sgr, saf × eval, train).
final class ParityTests: XCTestCase {
    func dump(_ module: String, _ mode: String) throws -> ReferenceDump {
        let dir = TestPaths.sharedGolden.appendingPathComponent("mscn-parity/\(module)/\(mode)").path
        guard FileManager.default.fileExists(atPath: dir + "/manifest.json") else {
            XCTFail("golden dump missing: \(dir) (shared/golden must sit beside the checkout)")
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
        let dir = TestPaths.sharedGolden.appendingPathComponent("mscn-parity/saf/eval").path
        let ok = try runProduct("mscn", ["parity", dir])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("out/sims"))
        XCTAssertFalse(ok.stdout.contains("FAIL"))

        let missing = try runProduct("mscn", ["parity", "/nonexistent/dump"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("manifest.json"), missing.stderr)
    }

    func testCorruptDumpNamesTheProblem() throws {
        let src = TestPaths.sharedGolden.appendingPathComponent("mscn-parity/sgr/eval")
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
