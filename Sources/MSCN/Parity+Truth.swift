import Engine
import Foundation

/// Comparisons against the float64 truth a dump may carry (`f64/<name>`, written by
/// Tests/Reference/parity_dump.py: the reference rerun in float64 on the same weights and inputs).
///
/// Some gradients are ill-conditioned sums: a meta-net bias under the warm-up loss adds B²
/// terms of ±0.06 that cancel to ~1e-5, so 1-ulp differences of the scores move it by ~1e-3
/// relative, in the reference's own float32 as in ours. Against its float32 golden such a
/// tensor needs a floor; against the truth it does not: both float32 results are held to the
/// float64 value at the ordinary tolerance. A gradient whose truth is zero by symmetry (a bias
/// before a batch norm or a softmax) or nearly so has no relative accuracy in any float32
/// result: float32 rounding leaves an error of a fixed fraction of the whole gradient's norm.
/// Such a tensor passes if its error is below `zeroGradientFraction` (1e-6) of the whole
/// gradient: on the parity grid, float32 results of tensors whose truth is zero reach 5.6e-7 of
/// the whole gradient in the reference and 1.8e-7 in ours (`zero64` rows).
extension Parity {
    /// Norm of the float64 truth of all `names` (nil when the dump has no truth for them).
    static func truthNorm(_ dump: ReferenceDump, _ names: [String]) throws -> Double? {
        var s = 0.0, any = false
        for n in names where dump.has("f64/" + n) {
            any = true
            for x in try dump.stored("f64/" + n).doubles() { s += x * x }
        }
        return any ? s.squareRoot() : nil
    }

    /// `name` against its truth (nil when the dump has none).
    /// With `sumOfMagnitudes` (‖Σ|terms|‖ of a sum whose result is `name`), the tolerance is
    /// `max(tol, roundingPerTerm · ‖Σ|terms|‖ / ‖truth‖)`: what rounding of each term to float32
    /// can do to a sum that cancels.
    static func compareToTruth(_ dump: ReferenceDump, _ name: String, _ ours: [Float], _ tol: Double, whole: Double,
                               sumOfMagnitudes: Double? = nil) throws -> ParityRow? {
        guard dump.has("f64/" + name) else { return nil }
        let truth = try dump.stored("f64/" + name).doubles()
        let ref = try dump.tensor(name).data
        var t = tol
        if let m = sumOfMagnitudes {
            let norm = truth.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { t = max(tol, roundingPerTerm * m / norm) }
        }
        return truthRow(name, ours, ref, truth, t, whole: whole)
    }

    /// Relative error allowed per term of a meta-net bias gradient: float32's machine epsilon
    /// (2⁻²³). On the parity grid (Tests/Reference/parity-grid.txt, 33 configurations) the
    /// reference's own float32 reaches 4.1e-8 of Σ|terms| against its float64 truth, ours 4.5e-8;
    /// the condition Σ|terms|/|Σ terms| reaches 3.6e5 there (relative errors up to 2.4e-2).
    static let roundingPerTerm = 0x1p-23

    /// The meta-net bias gradients are sums over the B² pairs of `t_p = ∂loss/∂S_p · S_p(1 − S_p)`
    /// (output bias) and `t_p · w₂[k] · 1[h > 0]` (hidden bias k), which cancel: the hinge's
    /// ±1/B weights meet scores near 0.5. Returns ‖Σ_p |terms|‖ per bias (the hidden one bounded
    /// without the ReLU mask), from our scores `[B, B]`.
    static func metaBiasMagnitudes(_ meta: NamedTensors, scores: [Float], batch b: Int, warmup: Bool, margin: Float) -> [String: Double] {
        let t = Tape()
        let s = t.leaf(scores, shape: [b, b], requiresGrad: true)
        t.backward(warmup ? Losses.warmup(t, scores: s, margin: margin) : Losses.train(t, scores: s, margin: margin))
        let ds = t.grad(s)
        var total = 0.0
        for p in scores.indices { total += abs(Double(ds[p]) * Double(scores[p]) * (1 - Double(scores[p]))) }
        var r = ["output_layer.bias": total]
        if let w2 = meta["output_layer.weight"]?.data {
            r["first_hidden_layer.fc.bias"] = w2.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() * total
        }
        return r
    }

    static func truthRow(_ name: String, _ ours: [Float], _ ref: [Float], _ truth: [Double], _ tol: Double, whole: Double) -> ParityRow {
        guard ours.count == truth.count, ref.count == truth.count else {
            return ParityRow(name: name + " (size \(ours.count) vs \(truth.count))", maxAbs: .infinity, relative: .infinity,
                             tolerance: tol, kind: .relativeToTruth)
        }
        var maxAbs = 0.0, d2 = 0.0, e2 = 0.0, t2 = 0.0
        for i in truth.indices {
            let d = Double(ours[i]) - truth[i], e = Double(ref[i]) - truth[i]
            if !d.isFinite { maxAbs = .infinity }
            maxAbs = max(maxAbs, abs(d)); d2 += d * d; e2 += e * e; t2 += truth[i] * truth[i]
        }
        let w = max(whole, .leastNormalMagnitude)
        let relative = t2 > 0 ? (d2 / t2).squareRoot() : .infinity
        if relative > tol, d2.squareRoot() / w <= zeroGradientFraction {
            return ParityRow(name: name, maxAbs: maxAbs, relative: d2.squareRoot() / w, tolerance: zeroGradientFraction,
                             kind: .zeroByTruth, referenceError: e2.squareRoot() / w)
        }
        return ParityRow(name: name, maxAbs: maxAbs, relative: relative, tolerance: tol,
                         kind: .relativeToTruth, referenceError: t2 > 0 ? (e2 / t2).squareRoot() : .infinity)
    }

    /// The second-order part `full − direct` against `f64 full − f64 direct`.
    static func compareSecondOrderToTruth(_ dump: ReferenceDump, _ names: [String], _ ours: [Float], _ ref: [Float]) throws -> ParityRow? {
        var truth: [Double] = []
        for n in names {
            let f = "f64/step/meta_grad_full/\(n)", d = "f64/step/meta_grad_direct/\(n)"
            guard dump.has(f), dump.has(d) else { return nil }
            truth += zip(try dump.stored(f).doubles(), try dump.stored(d).doubles()).map { $0 - $1 }
        }
        let whole = truth.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return truthRow("step/meta_grad (full − direct)", ours, ref, truth, secondOrderTolerance, whole: whole)
    }

    /// Whether a reference gradient is zero by symmetry: its float64 truth when the dump has
    /// one, else its float32 value against the noise floor.
    static func isZeroGradient(_ dump: ReferenceDump, _ name: String, floor: Double, truthWhole: Double?) throws -> Bool {
        guard dump.has(name) else { return false }
        if let truthWhole, dump.has("f64/" + name) {
            let t = try dump.stored("f64/" + name).doubles()
            return t.reduce(0) { $0 + $1 * $1 }.squareRoot() <= zeroGradientFraction * truthWhole
        }
        return try dump.tensor(name).norm < floor / noiseFloorFraction * zeroGradientFraction
    }
}
