import Foundation

/// The weights after the reference's main step: one Adam step (fresh state) on the clipped
/// gradient ĝ, which moves each weight by `lr·ĝ_i/(|ĝ_i| + eps)` (bias corrections cancel at
/// step 1). That map is nearly flat where |ĝ_i| ≫ eps and steep where |ĝ_i| is tiny: an element
/// of 1e-9 against a tensor of 1e-3 may carry 100% relative error inside the gradient check's
/// L2 tolerance, and Adam turns that into a move of up to lr/10. So each element gets
/// `stateTolerance + lr·min(2, δ/(|ĝ_i| + eps))`, δ = gradientTolerance·rms(ĝ) (the error per
/// element the gradient check admits): 1e-5 (+ ~lr·1e-3) for ordinary elements, more only
/// where the gradient is at its rounding level. On the grid this covered GRU weights with
/// gradients of ~1e-9 whose weights moved 1.7e-5…3.1e-5 apart at lr 2e-4 (g14, g17).
extension Parity {
    static let adamEps = 1e-8

    static func compareAdamStep(_ name: String, _ ours: [Float], _ ref: [Float], gradient: [Float], clipScale: Double, lr: Double) -> ParityRow {
        guard ours.count == ref.count, gradient.count == ref.count, !ref.isEmpty else {
            return ParityRow(name: name + " (size \(ours.count) vs \(ref.count))", maxAbs: .infinity, relative: .infinity, tolerance: 1, kind: .adamStep)
        }
        let g = gradient.map { Double($0) * clipScale }
        let rms = (g.reduce(0) { $0 + $1 * $1 } / Double(g.count)).squareRoot()
        let delta = gradientTolerance * rms
        var maxAbs = 0.0, worst = 0.0
        for i in ref.indices {
            let d = abs(Double(ours[i]) - Double(ref[i]))
            maxAbs = max(maxAbs, d)
            let tol = stateTolerance + lr * min(2, delta / (abs(g[i]) + adamEps))
            worst = max(worst, d / tol)
        }
        return ParityRow(name: name, maxAbs: maxAbs, relative: worst, tolerance: 1, kind: .adamStep)
    }

    /// The clip factor `min(1, 2/‖g‖)` of the reference's main step (clip_grad_norm_ 2.0).
    static func clipScale(_ dump: ReferenceDump, _ names: [String]) throws -> Double {
        var s = 0.0
        for n in names where dump.has(n) { let v = try dump.tensor(n).norm; s += v * v }
        let norm = s.squareRoot()
        return norm > 2 ? 2 / (norm + 1e-6) : 1
    }
}
