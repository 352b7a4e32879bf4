import Foundation
import VectorLibm

extension Tape {
    /// `x / (sqrt(Σ x²) + eps)` over the last axis of length `n` (the reference's l2norm: eps
    /// after the square root). An all-zero row stays zero.
    public func l2norm(_ x: Var, eps: Float = 1e-8) -> Var {
        normalize(x, eps: eps, l1: false)
    }

    /// `x / (Σ |x| + eps)` over the last axis (the reference's l1norm).
    public func l1norm(_ x: Var, eps: Float = 1e-8) -> Var {
        normalize(x, eps: eps, l1: true)
    }

    func normalize(_ x: Var, eps: Float, l1: Bool) -> Var {
        let n = shape(x).last ?? 1
        let xv = values[x.id], rows = xv.count / max(n, 1)
        var norms = [Float](repeating: 0, count: rows)
        var y = xv
        for r in 0..<rows {
            var s: Float = 0
            if l1 { for c in 0..<n { s += abs(xv[r * n + c]) } } else {
                for c in 0..<n { s += xv[r * n + c] * xv[r * n + c] }
                s = s.squareRoot()
            }
            norms[r] = s
            let d = s + eps
            for c in 0..<n { y[r * n + c] = xv[r * n + c] / d }
        }
        return record(y, shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentNormalize(x, norms: norms, eps: eps, l1: l1, n: n) }) { t, g in
            let xv = t.values[x.id]
            var dx = g
            for r in 0..<rows {
                let s = norms[r], d = s + eps
                var gx: Float = 0
                for c in 0..<n { gx += g[r * n + c] * xv[r * n + c] }
                // d(x/(s+eps)) = g/(s+eps) − x·(g·x)/(s+eps)²·(∂s/∂x), ∂s/∂x = x/s (l2) or sign(x) (l1).
                let k = gx / (d * d)
                for c in 0..<n {
                    let xi = xv[r * n + c]
                    let ds: Float = l1 ? (xi > 0 ? 1 : (xi < 0 ? -1 : 0)) : (s > 0 ? xi / s : 0)
                    dx[r * n + c] = g[r * n + c] / d - k * ds
                }
            }
            t.accumulate(x, dx)
        }
    }

    /// Softmax over the last axis.
    public func softmax(_ x: Var) -> Var {
        let n = shape(x).last ?? 1
        let xv = values[x.id], rows = xv.count / max(n, 1)
        var y = xv
        for r in 0..<rows {
            var m = -Float.infinity
            for c in 0..<n { m = max(m, xv[r * n + c]) }
            var s: Float = 0
            for c in 0..<n { y[r * n + c] = xv[r * n + c] - m }
            y.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                ExpF.apply(p + r * n, p + r * n, n)
            }
            for c in 0..<n { s += y[r * n + c] }
            for c in 0..<n { y[r * n + c] /= s }
        }
        return record(y, shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentSoftmax(x, y: y, n: n) }) { t, g in
            var dx = g
            for r in 0..<rows {
                var gy: Float = 0
                for c in 0..<n { gy += g[r * n + c] * y[r * n + c] }
                for c in 0..<n { dx[r * n + c] = y[r * n + c] * (g[r * n + c] - gy) }
            }
            t.accumulate(x, dx)
        }
    }
}
