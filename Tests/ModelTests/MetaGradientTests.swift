@testable import Engine
import MSCN
import MSCNRandom
import XCTest

/// The meta-gradient (SPEC §6 step 3) against a brute-force derivative of
/// F(φ) = L_meta(θ − lr·∇θ L_train(θ, φ), φ), independent of the golden dumps.
///
/// F is evaluated by whole training steps on fresh copies (dropout 0, so every forward is
/// deterministic) and differentiated along three random directions of φ by Float32 central
/// differences with steps of 3e-3, 1e-3 and 3e-4 of ‖φ‖ (median taken). Rounding of F
/// (≈6e-8) over those steps gives ≈3e-4 absolute noise, hence the tolerance 3e-2·|d| + 3e-4;
/// the test also asserts that the first-order (direct) gradient alone fails it somewhere.
final class MetaGradientTests: XCTestCase {
    func testFullMetaGradientMatchesDirectionalDerivatives() {
        check(dropout: 0)
    }

    /// With dropout on, fresh copies with one seed draw the same masks, so F is still a
    /// deterministic function of φ; the central difference matches it only if its ± forwards
    /// replay the look-ahead's masks. Word vectors of 16 (not 4) dimensions: with 4, dropout
    /// p = 0.4 blanks whole captions often enough that two captions tie exactly and the
    /// hardest negative flips under any perturbation (both backends agree on that jump).
    func testMetaGradientWithDropoutReplaysTheLookaheadMasks() {
        check(dropout: 0.4, wordDim: 16)
    }

    /// The central-difference path (`--meta-grad finite-difference`) stays correct.
    func testFiniteDifferenceMetaGradientMatchesDirectionalDerivatives() {
        check(dropout: 0, method: .finiteDifference)
    }

    /// Quirk 1 corrected: the look-ahead's clip factor depends on φ too; the exact term
    /// differentiates through it (u → c·(u − ĝ⟨ĝ, u⟩)). The clip threshold is below the
    /// pseudo gradient's norm (asserted), so the clip is active.
    func testClippedLookaheadIsDifferentiatedThroughTheClip() {
        check(dropout: 0, clip: 0.2)
    }

    /// Quirk 8 option: a frozen GRU carries no path in the look-ahead.
    func testFrozenGRULookahead() {
        check(dropout: 0, freezeGRU: true)
    }

    /// The exact term's per-caption tangent forwards run in two halves at once (two threads);
    /// the meta-gradient must be the same bits as with one thread, for both variants.
    func testSecondOrderTermDoesNotDependOnThreads() {
        for variant in [SimilarityVariant.sgr, .saf] {
            var c = Tiny.config(variant)
            c.dropout = 0.2
            let batch = Tiny.batch(6, seed: 41), meta = Tiny.meta(4, seed: 42)
            let reports = [1, 2].map { threads in
                ParallelRows.withThreads(threads) {
                    let m = Model(config: c, seed: 9)
                    var r = StepReport()
                    m.trainStep(batch, meta: meta, lr: 0, metaLR: 0, pseudoLR: 2, report: &r)
                    return r
                }
            }
            XCTAssertFalse(reports[0].metaGradFull.isEmpty, "\(variant)")
            for (name, one) in reports[0].metaGradFull {
                XCTAssertEqual(one, reports[1].metaGradFull[name], "\(variant) \(name)")
            }
            XCTAssertTrue(reports[0].metaGradFull.contains { $0.value != reports[0].metaGradDirect[$0.key] },
                          "\(variant): no second-order term to compare")
        }
    }

    func check(dropout: Float, wordDim: Int? = nil, method: MetaGradientMethod = .exact, clip: Float? = nil, freezeGRU: Bool = false) {
        for variant in [SimilarityVariant.sgr, .saf] {
            var c = Tiny.config(variant)
            c.dropout = dropout
            if let wordDim { c.wordDim = wordDim }
            if let clip { c.meta.clipPseudoGradient = true; c.gradClip = clip }
            c.meta.freezeGRUInLookahead = freezeGRU
            let seed: UInt64 = 21
            let batch = Tiny.batch(5, seed: 31), meta = Tiny.meta(4, seed: 32)
            let lr: Float = 2
            func step(_ phi: NamedTensors?) -> StepReport {
                let m = Model(config: c, seed: seed)
                m.metaGradientMethod = method
                if let phi { m.meta = phi }
                var r = StepReport()
                m.trainStep(batch, meta: meta, lr: 0, metaLR: 0, pseudoLR: lr, report: &r)
                return r
            }
            let base = step(nil)
            if let clip {
                let m = Model(config: c, seed: seed)
                var d2 = 0.0
                for n in m.net.names {
                    guard let a = m.net[n]?.data, let b = base.pseudoParams[n]?.data else { continue }
                    for (x, y) in zip(a, b) { d2 += Double(x - y) * Double(x - y) }
                }
                // ‖θ − θ'‖ = lr·min(‖g‖, clip): equal to lr·clip means the clip acted.
                XCTAssertEqual(d2.squareRoot(), Double(lr * clip), accuracy: 1e-3 * Double(lr * clip), "\(variant): the clip is not active")
            }
            let phi0 = Model(config: c, seed: seed).meta
            var g = SeededGenerator(seed: 5, stream: "directions")
            var second = 0.0, full = 0.0
            for (n, f) in base.metaGradFull {
                for (a, b) in zip(f, base.metaGradDirect[n] ?? []) { second += Double(a - b) * Double(a - b); full += Double(a) * Double(a) }
            }
            XCTAssertGreaterThan((second / full).squareRoot(), 0.05, "\(variant): second-order term too small to test")
            var directMisses = 0
            for _ in 0..<3 {
                var dir: [String: [Float]] = [:]
                for n in phi0.names { dir[n] = (0..<(phi0[n]?.count ?? 0)).map { _ in g.unitFloat() * 2 - 1 } }
                var dirNorm2 = 0.0, analytic = 0.0
                for (n, d) in dir {
                    for (i, x) in d.enumerated() { dirNorm2 += Double(x * x); analytic += Double(x) * Double(base.metaGradFull[n]?[i] ?? 0) }
                }
                // Median over three steps: a step that crosses a kink of the hinge's hardest
                // negative (θ' jumps there) shows up as one outlier.
                var estimates: [Double] = []
                for rel in [3e-3, 1e-3, 3e-4] {
                    let h = Float(rel * phi0.norm / dirNorm2.squareRoot())
                    let plus = step(phi0.adding(dir, scaledBy: h)).metaLoss, minus = step(phi0.adding(dir, scaledBy: -h)).metaLoss
                    estimates.append(Double(plus - minus) / Double(2 * h))
                }
                let numeric = estimates.sorted()[1]
                var direct = 0.0
                for (n, d) in dir { for (i, x) in d.enumerated() { direct += Double(x) * Double(base.metaGradDirect[n]?[i] ?? 0) } }
                if abs(direct - numeric) > 3e-2 * abs(numeric) + 3e-4 { directMisses += 1 }
                XCTAssertEqual(analytic, numeric, accuracy: 3e-2 * abs(numeric) + 3e-4, "\(variant)")
            }
            XCTAssertGreaterThan(directMisses, 0, "\(variant): the first-order gradient alone also passes; the test cannot see the second-order term")
        }
    }
}
