import XCTest
@testable import SimilarityKernels

/// Every hand-written gradient of the kernel against central finite differences.
///
/// The differences are taken on `ReferenceProblem.forward`, an independent plain-loop Double
/// implementation of the same function (its agreement with the kernel's forward is asserted
/// first, to 2e-6). In Double, h = 1e-6 leaves a truncation error ~h²·f''' ≈ 1e-12 and a
/// rounding error ~1e-16·|f|/h ≈ 1e-10, and the chance that ±h moves a ReLU/LeakyReLU input
/// across zero is ~1e-6 per element — so the differences are exact to ~1e-9 and all the
/// mismatch left is the kernel's Float32 rounding. That rounding is ~1e-7 relative per
/// operation over a chain of a few dozen operations (sums of up to ~100 terms, softmax and
/// l2norm backwards that subtract nearly equal numbers), so we allow 2e-5 of the tensor's
/// largest gradient plus 1e-4 relative per element — ~200× Float32's unit roundoff; the
/// kernels measured stay under 15% of that. A wrong term in a backward formula gives errors
/// of the gradient's own size.
final class GradientCheckTests: XCTestCase {
    func testSGRAllPairsGradients() {
        check(.random(seed: 11, module: .sgr(steps: 3), imageCount: 2, captionCount: 3, regions: 5,
                      lengths: [3, 1, 4], dim: 10, simDim: 9), pairs: .all, training: true)
    }

    func testSGRDiagonalGradients() {
        check(.random(seed: 12, module: .sgr(steps: 3), imageCount: 3, captionCount: 3, regions: 4,
                      lengths: [2, 4, 1], dim: 9, simDim: 8), pairs: .diagonal, training: true)
    }

    func testSGRSingleStepGradients() {
        check(.random(seed: 16, module: .sgr(steps: 1), imageCount: 2, captionCount: 2, regions: 3,
                      lengths: [2, 3], dim: 8, simDim: 8), pairs: .all, training: false)
    }

    func testSAFTrainingAllPairsGradients() {
        check(.random(seed: 13, module: .saf, imageCount: 3, captionCount: 2, regions: 5,
                      lengths: [3, 2], dim: 10, simDim: 9), pairs: .all, training: true)
    }

    func testSAFTrainingDiagonalGradients() {
        check(.random(seed: 14, module: .saf, imageCount: 3, captionCount: 3, regions: 4,
                      lengths: [1, 3, 4], dim: 9, simDim: 10), pairs: .diagonal, training: true)
    }

    func testSAFEvalAllPairsGradients() {
        check(.random(seed: 15, module: .saf, imageCount: 2, captionCount: 3, regions: 4,
                      lengths: [2, 3, 1], dim: 10, simDim: 9), pairs: .all, training: false)
    }

    private func check(_ problem: ReferenceProblem, pairs: PairSet, training: Bool,
                       file: StaticString = #filePath, line: UInt = #line) {
        let kernel = SimilarityKernel(dim: problem.dim, simDim: problem.simDim, module: problem.module)
        kernel.maxGroupWords = 4  // several groups per image, so cross-group accumulation is exercised
        var params = problem.kernelParams()
        let (sims, tapeOrNil) = kernel.forward(problem.kernelInputs(), params: &params, pairs: pairs,
                                               training: training, keepTape: true)
        guard let tape = tapeOrNil else { return XCTFail("no tape", file: file, line: line) }
        let reference = problem.forward(pairs: pairs, training: training).sims
        XCTAssertEqual(sims.count, reference.count, file: file, line: line)
        let forwardError = zip(sims, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThan(forwardError, 2e-6, "kernel forward vs Double reference", file: file, line: line)

        var rng = TestRNG(state: 99)
        let cotangent = rng.array(sims.count, -1, 1)
        let grads = ReferenceProblem.named(kernel.backward(tape, params: problem.kernelParams(),
                                                           dSimVectors: cotangent.map(Float.init)))
        func objective(_ p: ReferenceProblem) -> Double {
            zip(p.forward(pairs: pairs, training: training).sims, cotangent).reduce(0.0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        // Gradients that are zero by invariance, where only rounding is left to compare:
        // a key bias adds q·b to a whole softmax row; SAF's attention bias is removed by the
        // batch norm's mean in training mode.
        var invariant = Set((0..<problem.steps).map { "sgr\($0).k.b" })
        if problem.module == .saf && training { invariant.insert("attn.b") }
        var worstOverall = (0.0, "")
        let overall = grads.values.flatMap { $0 }.map { abs(Double($0)) }.max() ?? 0
        for name in problem.differentiableNames {
            guard let analytic = grads[name] else { XCTFail("kernel gave no gradient for \(name)", file: file, line: line); continue }
            let base = problem.t(name)
            XCTAssertEqual(analytic.count, base.count, "\(name) gradient shape", file: file, line: line)
            var numeric = [Double](repeating: 0, count: base.count)
            // Big weight matrices: every other element keeps the debug-build test fast.
            let checked = Array(stride(from: 0, to: base.count, by: base.count > 60 ? 2 : 1))
            for e in checked {
                var plus = problem, minus = problem
                plus.tensors[name]?[e] += h
                minus.tensors[name]?[e] -= h
                numeric[e] = (objective(plus) - objective(minus)) / (2 * h)
            }
            let scale = invariant.contains(name) ? 1e-2 * overall : (numeric.map(abs).max() ?? 0)
            var worst = 0.0
            for e in checked {
                let err = abs(Double(analytic[e]) - numeric[e])
                worst = max(worst, err / (2e-5 * scale + 1e-4 * abs(numeric[e]) + 1e-10))
            }
            if worst > worstOverall.0 { worstOverall = (worst, name) }
            if ProcessInfo.processInfo.environment["MSCN_FD_VERBOSE"] != nil { print("  \(name): scale \(scale), worst ratio \(worst)") }
            XCTAssertLessThanOrEqual(worst, 1, "\(name): worst error / tolerance (largest |grad| \(scale))", file: file, line: line)
            // Double differences are good to ~1e-9; a tensor whose gradients are not well above
            // that would pass whatever the kernel returned.
            if !invariant.contains(name) && scale < 1e-6 * max(overall, 1) {
                XCTFail("\(name): finite differences \(scale) ≪ \(overall), the check would be vacuous", file: file, line: line)
            }
        }
        print("gradient check \(problem.module) \(pairs) training=\(training): forward |Δ| \(forwardError), worst error/tolerance \(worstOverall.0) (\(worstOverall.1))")
    }
}
