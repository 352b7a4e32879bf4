import Foundation
import Purification
import TensorFile
import TestSupport
import XCTest

/// The Beta-mixture purification against the reference's dump in `golden/bmm/` (SPEC §7).
final class PurificationGoldenTests: XCTestCase {
    static let tolerance = 1e-9

    var folder: URL { TestPaths.bmmGolden }

    func load(_ name: String) throws -> StoredTensor {
        let path = folder.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("golden file \(path) is missing (Tests/DataPrepTests/Golden is part of the repository)")
            throw XCTSkip("missing golden")
        }
        return try NPY.read(path)
    }

    func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(b), 1e-300)
    }

    func pair(_ any: Any?) throws -> [Double] {
        let v = try XCTUnwrap(any as? [NSNumber]).map(\.doubleValue)
        XCTAssertEqual(v.count, 2)
        return v
    }

    func testMatchesReferenceDump() throws {
        let train = try load("train_scores.npy").doubles()
        let clean = try load("meta_clean.npy").doubles()
        let noisy = try load("meta_noisy.npy").doubles()
        let posterior = try load("clean_posterior.npy").doubles()
        let data = try Data(contentsOf: folder.appendingPathComponent("bmm.json"))
        let golden = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])

        let fit = try Purifier.fit(trainScores: train, metaClean: clean, metaNoisy: noisy)
        var worst = 0.0
        func check(_ got: Double, _ want: Double, _ what: String) {
            let e = relativeError(got, want)
            worst = max(worst, e)
            XCTAssertLessThanOrEqual(e, Self.tolerance, "\(what): \(got) vs \(want)")
        }

        let initial = try XCTUnwrap(golden["initial"] as? [String: Any])
        let n0 = try pair(initial["noisy"]), c0 = try pair(initial["clean"])
        check(fit.initial.noisy.alpha, n0[0], "initial noisy alpha")
        check(fit.initial.noisy.beta, n0[1], "initial noisy beta")
        check(fit.initial.clean.alpha, c0[0], "initial clean alpha")
        check(fit.initial.clean.beta, c0[1], "initial clean beta")

        let iterations = try XCTUnwrap(golden["iterations"] as? [[String: Any]])
        XCTAssertEqual(fit.iterations.count, iterations.count, "number of EM entries")
        for (k, (got, want)) in zip(fit.iterations, iterations).enumerated() {
            check(got.ll, try XCTUnwrap(want["ll"] as? NSNumber).doubleValue, "iteration \(k) ll")
            let w = try pair(want["weights"])
            check(got.weights[0], w[0], "iteration \(k) noisy weight")
            check(got.weights[1], w[1], "iteration \(k) clean weight")
            let params = try XCTUnwrap(want["params"] as? [Any])
            for (c, p) in params.enumerated() {
                let ab = try pair(p)
                check(got.params[c].alpha, ab[0], "iteration \(k) component \(c) alpha")
                check(got.params[c].beta, ab[1], "iteration \(k) component \(c) beta")
            }
        }

        let final = try XCTUnwrap(golden["final"] as? [String: Any])
        let fw = try pair(final["weights"]), fn = try pair(final["noisy"]), fc = try pair(final["clean"])
        check(fit.final.weights[0], fw[0], "final noisy weight")
        check(fit.final.weights[1], fw[1], "final clean weight")
        check(fit.final.noisy.alpha, fn[0], "final noisy alpha")
        check(fit.final.noisy.beta, fn[1], "final noisy beta")
        check(fit.final.clean.alpha, fc[0], "final clean alpha")
        check(fit.final.clean.beta, fc[1], "final clean beta")
        let paramWorst = worst

        XCTAssertEqual(fit.cleanPosterior.count, posterior.count)
        var posteriorWorst = 0.0
        for (g, w) in zip(fit.cleanPosterior, posterior) { posteriorWorst = max(posteriorWorst, relativeError(g, w)) }
        XCTAssertLessThanOrEqual(posteriorWorst, Self.tolerance, "clean posterior")

        let keptFraction = try XCTUnwrap(golden["kept_fraction"] as? NSNumber).doubleValue
        let expectedKept = posterior.filter { $0 > 0.5 }.count
        XCTAssertEqual(fit.keep.filter { $0 }.count, expectedKept)
        XCTAssertEqual(fit.keptFraction, keptFraction)
        print("bmm golden: max relative error params/ll/weights \(paramWorst), posterior \(posteriorWorst)")

        // The report adds quality figures from the ground truth (is_noisy: 1 = mismatched).
        let labels = try load("is_noisy.npy").uint8s().map { UInt8($0 == 0 ? 1 : 0) }
        let report = try PurificationReport(fit: fit, cleanLabels: labels)
        let keptClean = zip(fit.keep, labels).filter { $0.0 && $0.1 == 1 }.count
        XCTAssertEqual(report.precision ?? -1, Double(keptClean) / Double(expectedKept), accuracy: 1e-15)
        XCTAssertGreaterThan(report.accuracy ?? 0, 0.5, "the golden case separates clean from noisy better than chance")
    }
}
