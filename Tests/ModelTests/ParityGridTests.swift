import Foundation
import MSCN
import TestSupport
import XCTest

/// Every dump of Tests/ModelTests/Golden/parity-grid passes the parity checks with both
/// similarity backends and the exact meta-gradient; the float64 truth is used where present.
final class ParityGridTests: XCTestCase {
    func dumps() throws -> [String] {
        let root = TestPaths.parityGridGolden
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
        var dirs: [String] = []
        for n in names {
            for mode in ["eval", "train"] {
                let d = root.appendingPathComponent("\(n)/\(mode)").path
                if FileManager.default.fileExists(atPath: d + "/manifest.json") { dirs.append(d) }
            }
        }
        return dirs
    }

    func testEveryGridDumpPasses() throws {
        let dirs = try dumps()
        XCTAssertGreaterThanOrEqual(dirs.count, 2, "parity-grid goldens missing (Tests/ModelTests/Golden is part of the repository)")
        for dir in dirs {
            for (label, similarity) in [("standard", SimilarityBackends.standard), ("reference", { _ in ReferenceSimilarity() })]
                as [(String, (ModelConfig) -> SimilarityBackend)] {
                let rows = try Parity.run(ReferenceDump(directory: dir), similarity: similarity)
                for r in rows where !r.ok {
                    XCTFail("\(dir) [\(label)] \(r.name): max abs \(r.maxAbs), rel \(r.relative), \(r.kind.rawValue) tolerance \(r.tolerance)")
                }
                XCTAssertTrue(rows.contains { $0.kind == .relativeToTruth }, "\(dir): no float64 truth used")
                XCTAssertTrue(rows.contains { $0.name == "step/meta_grad (full − direct)" && $0.kind == .relativeToTruth }, dir)
            }
        }
    }

    /// The exact second-order term is far closer to the truth than the central difference on
    /// these dumps (and both pass).
    func testExactSecondOrderBeatsFiniteDifference() throws {
        for dir in try dumps() where dir.hasSuffix("/train") {
            func secondOrder(_ m: MetaGradientMethod) throws -> ParityRow? {
                try Parity.run(ReferenceDump(directory: dir), metaGradient: m).first { $0.name == "step/meta_grad (full − direct)" }
            }
            let exact = try XCTUnwrap(secondOrder(.exact)), fd = try XCTUnwrap(secondOrder(.finiteDifference))
            XCTAssertTrue(exact.ok && fd.ok, dir)
            XCTAssertLessThan(exact.relative, 1e-3, dir)
            XCTAssertLessThan(exact.relative, fd.relative, dir)
        }
    }
}
