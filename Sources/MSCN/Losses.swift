import Engine

/// The ranking and meta losses of SPEC §5, as fused tape ops.
public enum Losses {
    /// Hinge costs of score matrix S `[B, B]`: entry [i][j] of cost_c uses S_ii, of cost_i S_jj,
    /// with margin m[j] (per caption column); diagonals zero.
    static func costs(_ s: [Float], _ b: Int, margin: [Float]) -> (c: [Float], i: [Float]) {
        var cc = [Float](repeating: 0, count: b * b), ci = cc
        for i in 0..<b { for j in 0..<b where i != j {
            cc[i * b + j] = max(0, margin[j] + s[i * b + j] - s[i * b + i])
            ci[i * b + j] = max(0, margin[j] + s[i * b + j] - s[j * b + j])
        } }
        return (cc, ci)
    }

    /// Warm-up loss: `Σ_i mean_j cost_c + Σ_j mean_i cost_i`, fixed margin.
    public static func warmup(_ t: Tape, scores: Var, margin: Float) -> Var {
        let b = t.shape(scores)[0]
        let s = t.value(scores)
        let (cc, ci) = costs(s, b, margin: [Float](repeating: margin, count: b))
        var loss: Float = 0
        for i in 0..<b { var r: Float = 0; for j in 0..<b { r += cc[i * b + j] }; loss += r / Float(b) }
        for j in 0..<b { var r: Float = 0; for i in 0..<b { r += ci[i * b + j] }; loss += r / Float(b) }
        return t.record([loss], shape: [], requiresGrad: t.needsGrad(scores)) { t, g in
            var ds = [Float](repeating: 0, count: b * b)
            let k = g[0] / Float(b)
            for i in 0..<b { for j in 0..<b where i != j {
                if cc[i * b + j] > 0 { ds[i * b + j] += k; ds[i * b + i] -= k }
                if ci[i * b + j] > 0 { ds[i * b + j] += k; ds[j * b + j] -= k }
            } }
            t.accumulate(scores, ds)
        }
    }

    /// The self-adaptive margins `0.2·p²/(p²+(1−p)²)` of the (detached) diagonal.
    public static func adaptiveMargins(_ s: [Float], _ b: Int, margin: Float) -> [Float] {
        (0..<b).map { j in
            let p = s[j * b + j]
            let ratio = p / (1 - p)
            return margin * (1 / (1 + 1 / (ratio * ratio)))
        }
    }

    /// Training loss: hardest negatives with the self-adaptive margin per caption column.
    public static func train(_ t: Tape, scores: Var, margin: Float) -> Var {
        let b = t.shape(scores)[0]
        return hardest(t, scores: scores, margins: adaptiveMargins(t.value(scores), b, margin: margin))
    }

    /// The standard VSE++/SGRAF loss: hardest negatives with one fixed margin (no adaptation);
    /// what the comparison rows (standard, oracle) train with after their warm-up.
    public static func hardestNegative(_ t: Tape, scores: Var, margin: Float) -> Var {
        hardest(t, scores: scores, margins: [Float](repeating: margin, count: t.shape(scores)[0]))
    }

    /// `Σ_i max_j cost_c + Σ_j max_i cost_i` with margin `margins[j]` per caption column.
    static func hardest(_ t: Tape, scores: Var, margins m: [Float]) -> Var {
        let b = t.shape(scores)[0]
        let s = t.value(scores)
        let (cc, ci) = costs(s, b, margin: m)
        var loss: Float = 0
        var argC = [Int](repeating: 0, count: b), argI = [Int](repeating: 0, count: b)
        for i in 0..<b {   // max over captions j (first maximum, as torch.max)
            var best = cc[i * b], arg = 0
            for j in 1..<max(b, 1) where cc[i * b + j] > best { best = cc[i * b + j]; arg = j }
            loss += best; argC[i] = arg
        }
        for j in 0..<b {
            var best = ci[j], arg = 0
            for i in 1..<max(b, 1) where ci[i * b + j] > best { best = ci[i * b + j]; arg = i }
            loss += best; argI[j] = arg
        }
        return t.record([loss], shape: [], requiresGrad: t.needsGrad(scores)) { t, g in
            var ds = [Float](repeating: 0, count: b * b)
            for i in 0..<b { let j = argC[i]; if cc[i * b + j] > 0 { ds[i * b + j] += g[0]; ds[i * b + i] -= g[0] } }
            for j in 0..<b { let i = argI[j]; if ci[i * b + j] > 0 { ds[i * b + j] += g[0]; ds[j * b + j] -= g[0] } }
            t.accumulate(scores, ds)
        }
    }

    /// Mean binary cross-entropy (log clamped at −100, as torch's BCELoss).
    public static func bce(_ t: Tape, probabilities: Var, labels: [Float]) -> Var {
        let p = t.value(probabilities), n = p.count
        var loss: Float = 0
        for i in 0..<n {
            let lp = max(Foundation_log(p[i]), -100), lq = max(Foundation_log(1 - p[i]), -100)
            loss -= labels[i] * lp + (1 - labels[i]) * lq
        }
        loss /= Float(n)
        return t.record([loss], shape: [], requiresGrad: t.needsGrad(probabilities)) { t, g in
            var d = [Float](repeating: 0, count: n)
            for i in 0..<n { d[i] = g[0] * (p[i] - labels[i]) / max((1 - p[i]) * p[i], 1e-12) / Float(n) }
            t.accumulate(probabilities, d)
        }
    }
}
