import Foundation
import Purification
import XCTest

/// Beta fits, edge cases and the purification report on hand-made inputs.
final class PurificationTests: XCTestCase {
    func testMomentFitRecoversMeanAndVariance() throws {
        let x = [0.2, 0.4, 0.5, 0.7, 0.9]
        let w = [1.0, 2.0, 0.5, 1.0, 3.0]
        let p = try BetaParameters.fitMoments(x, weights: w)
        let total = w.reduce(0, +)
        let m = zip(x, w).map { $0 * $1 }.reduce(0, +) / total
        let v = zip(x, w).map { ($0 - m) * ($0 - m) * $1 }.reduce(0, +) / total
        let s = p.alpha + p.beta
        XCTAssertEqual(p.alpha / s, m, accuracy: 1e-12, "Beta mean a/(a+b)")
        XCTAssertEqual(p.alpha * p.beta / (s * s * (s + 1)), v, accuracy: 1e-12, "Beta variance ab/((a+b)²(a+b+1))")
    }

    func testDensityIntegratesToOne() {
        let p = BetaParameters(alpha: 2.5, beta: 4.0)
        let n = 200_000
        var sum = 0.0
        for i in 0..<n { sum += exp(p.logDensity((Double(i) + 0.5) / Double(n))) }
        XCTAssertEqual(sum / Double(n), 1, accuracy: 1e-6)
        // Beta(2, 3) at 0.5: 12 · 0.5 · 0.25 = 1.5.
        XCTAssertEqual(exp(BetaParameters(alpha: 2, beta: 3).logDensity(0.5)), 1.5, accuracy: 1e-12)
    }

    func testDegenerateInputsThrow() {
        let good = [0.1, 0.3, 0.5, 0.8]
        XCTAssertThrowsError(try Purifier.fit(trainScores: [], metaClean: good, metaNoisy: good))
        XCTAssertThrowsError(try Purifier.fit(trainScores: good, metaClean: [], metaNoisy: good))
        XCTAssertThrowsError(try Purifier.fit(trainScores: good, metaClean: good, metaNoisy: [0.5, 0.5, 0.5]), "zero variance")
        XCTAssertThrowsError(try Purifier.fit(trainScores: good, metaClean: good, metaNoisy: [.nan, 0.2]))
        XCTAssertThrowsError(try BetaParameters.fitMoments([0.2, 0.4], weights: [0, 0]), "zero total weight")
        XCTAssertThrowsError(try BetaParameters.fitMoments([0.2, 0.4], weights: [1]), "length mismatch")
        // All training scores equal: the M-step has nothing to fit.
        XCTAssertThrowsError(try Purifier.fit(trainScores: [0.6, 0.6, 0.6], metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.2, 0.4]))
    }

    func testClampingKeepsScoresAtTheEdgesFinite() throws {
        let train = [0.0, 1.0, 0.05, 0.95, 0.2, 0.8, 0.3, 0.7, 0.1, 0.9]
        let fit = try Purifier.fit(trainScores: train, metaClean: [0.7, 0.9, 1.0, 0.8], metaNoisy: [0.0, 0.1, 0.3, 0.2])
        XCTAssertTrue(fit.cleanPosterior.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        XCTAssertTrue(fit.iterations.allSatisfy { $0.ll.isFinite })
        XCTAssertFalse(fit.keep[0], "a score of 0 is noisy")
        XCTAssertTrue(fit.keep[1], "a score of 1 is clean")
    }

    func testStopsWhenLikelihoodStalls() throws {
        var options = BetaMixtureOptions()
        options.tolerance = 1e9
        let train = (0..<50).map { 0.01 + 0.98 * Double($0) / 49 }
        let fit = try Purifier.fit(trainScores: train, metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.3, 0.2], options: options)
        XCTAssertEqual(fit.iterations.count, 2, "initial E-step plus exactly one M-step round")
        options.tolerance = -1e9
        options.maxMSteps = 4
        let longer = try Purifier.fit(trainScores: train, metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.3, 0.2], options: options)
        XCTAssertEqual(longer.iterations.count, 5, "capped at maxMSteps")
        XCTAssertEqual(longer.final.noisy, longer.iterations.last?.params[0])
    }

    func testComponentLosingAllWeightStopsEMWithTheMixtureItHas() throws {
        // Training scores far below a sharp clean Beta: the clean responsibilities underflow to
        // exactly 0, so an M-step would have no weighted moments for the clean component.
        let train = [Double](repeating: 0.002, count: 50) + [0.003, 0.004]
        let fit = try Purifier.fit(trainScores: train, metaClean: [0.99, 0.991, 0.989, 0.9905],
                                   metaNoisy: [0.01, 0.2, 0.1, 0.05])
        let stopped = try XCTUnwrap(fit.stopped, "EM must say that it stopped early")
        XCTAssertTrue(stopped.contains("lost all its weight"), stopped)
        XCTAssertEqual(fit.iterations.count, 1, "only the initial E-step")
        XCTAssertEqual(fit.final, fit.initial)
        XCTAssertEqual(fit.keep.filter { $0 }.count, 0, "nothing is clean under the kept mixture")
        let report = try PurificationReport(fit: fit, cleanLabels: [UInt8](repeating: 1, count: train.count))
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any])
        XCTAssertEqual(obj["em_stopped"] as? String, stopped)

        let ordinary = try Purifier.fit(trainScores: [0.1, 0.2, 0.8, 0.9, 0.85, 0.15],
                                        metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.3, 0.2])
        XCTAssertNil(ordinary.stopped)
    }

    func testCollapsedScoresAreFlaggedNotHidden() throws {
        // A collapsed net scores every pair near one value (seen: meta positives with std 3e-5
        // around 0.5933); the fit still runs, as the reference's would, but says so.
        let spreadNoisy: [Double] = (0..<40).map { k in 0.3 + 0.28 * Double(k) / 39 }
        let nearCeiling: [Double] = (0..<30).map { k in 0.59325 + 1e-5 * Double(k % 7) }
        let train = spreadNoisy + nearCeiling
        let metaClean: [Double] = (0..<20).map { k in 0.59330 + 1e-5 * Double(k % 5) }
        let metaNoisy: [Double] = (0..<20).map { k in 0.05 + 0.02 * Double(k) }
        let fit = try Purifier.fit(trainScores: train, metaClean: metaClean, metaNoisy: metaNoisy)
        let collapsed = try XCTUnwrap(fit.collapsed, "narrow meta positives must be flagged")
        XCTAssertTrue(collapsed.contains("meta positives") && !collapsed.contains("negatives"), collapsed)
        XCTAssertLessThan(fit.metaSpread.clean, 1e-4)
        XCTAssertGreaterThan(fit.metaSpread.noisy, 0.1)
        let report = try PurificationReport(fit: fit)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any])
        XCTAssertEqual(obj["collapsed"] as? String, collapsed)
        XCTAssertEqual(try XCTUnwrap(obj["meta_clean_std"] as? Double), fit.metaSpread.clean, accuracy: 1e-15)

        let healthy = try Purifier.fit(trainScores: [0.1, 0.2, 0.8, 0.9, 0.85, 0.15],
                                       metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.3, 0.2])
        XCTAssertNil(healthy.collapsed)
        // Population std of [0.6, 0.8, 0.9]: mean 0.7667, variance 0.015556.
        XCTAssertEqual(healthy.metaSpread.clean, 0.0155556.squareRoot(), accuracy: 1e-6)
        var options = BetaMixtureOptions()
        options.collapsedSpread = 0.2
        let strict = try Purifier.fit(trainScores: [0.1, 0.2, 0.8, 0.9, 0.85, 0.15],
                                      metaClean: [0.6, 0.8, 0.9], metaNoisy: [0.1, 0.3, 0.2], options: options)
        XCTAssertTrue(strict.collapsed?.contains("positives") == true && strict.collapsed?.contains("negatives") == true)
    }

    func testReportCountsAndJSON() throws {
        let fit = PurificationFit(initial: BetaMixture(noisy: .init(alpha: 1, beta: 2), clean: .init(alpha: 2, beta: 1)),
                                  iterations: [], final: BetaMixture(noisy: .init(alpha: 1, beta: 2), clean: .init(alpha: 2, beta: 1)),
                                  cleanPosterior: [0.9, 0.8, 0.2, 0.6, 0.1], keep: [true, true, false, true, false])
        // clean labels: kept {0,1,3}: clean 0,3 → precision 2/3; clean {0,2,3}: recall 2/3;
        // agreement at 0, 3, 4 → accuracy 3/5.
        let report = try PurificationReport(fit: fit, cleanLabels: [1, 0, 1, 1, 0])
        XCTAssertEqual(report.kept, 3)
        XCTAssertEqual(report.keptFraction, 0.6, accuracy: 1e-15)
        XCTAssertEqual(report.precision ?? -1, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(report.recall ?? -1, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(report.accuracy ?? -1, 0.6, accuracy: 1e-15)
        XCTAssertThrowsError(try PurificationReport(fit: fit, cleanLabels: [1, 0]))

        let data = try JSONEncoder().encode(report)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertNotNil(obj["kept_fraction"])
        XCTAssertEqual((obj["final"] as? [String: Any])?["clean"] as? [Double], [2, 1])
        XCTAssertEqual(try JSONDecoder().decode(PurificationReport.self, from: data), report)
        let unlabelled = try PurificationReport(fit: fit)
        XCTAssertNil(unlabelled.precision)
    }
}
