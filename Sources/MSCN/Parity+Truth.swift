import Foundation

/// Comparisons against the float64 truth a dump may carry (`f64/<name>`, written by
/// Tests/Reference/parity_dump.py: the reference rerun in float64 on the same weights and inputs).
///
/// Some gradients are ill-conditioned sums: a meta-net bias under the warm-up loss adds B²
/// terms of ±0.06 that cancel to ~1e-5, so 1-ulp differences of the scores move it by ~1e-3
/// relative, in the reference's own float32 as in ours. Against its float32 golden such a
/// tensor needs a floor; against the truth it does not: both float32 results are held to the
/// float64 value at the ordinary tolerance. A gradient whose truth is zero by symmetry (a bias
/// before a batch norm or a softmax) has no relative accuracy in any float32 result; it is
/// checked as a fraction of the whole gradient instead, the symmetry itself confirmed in float64.
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
    static func compareToTruth(_ dump: ReferenceDump, _ name: String, _ ours: [Float], _ tol: Double, whole: Double) throws -> ParityRow? {
        guard dump.has("f64/" + name) else { return nil }
        let truth = try dump.stored("f64/" + name).doubles()
        let ref = try dump.tensor(name).data
        return truthRow(name, ours, ref, truth, tol, whole: whole)
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
        if t2.squareRoot() <= zeroGradientFraction * whole {
            let w = max(whole, .leastNormalMagnitude)
            return ParityRow(name: name, maxAbs: maxAbs, relative: d2.squareRoot() / w, tolerance: zeroGradientFraction,
                             kind: .zeroByTruth, referenceError: e2.squareRoot() / w)
        }
        return ParityRow(name: name, maxAbs: maxAbs, relative: (d2 / t2).squareRoot(), tolerance: tol,
                         kind: .relativeToTruth, referenceError: (e2 / t2).squareRoot())
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
