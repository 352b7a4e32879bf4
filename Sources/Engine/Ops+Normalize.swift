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
        xv.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                norms = l1 ? rowSums(rows: rows, n: n) { r, c in abs(xp[r * n + c]) }
                           : rowSums(rows: rows, n: n) { r, c in xp[r * n + c] * xp[r * n + c] }.map { $0.squareRoot() }
                for r in 0..<rows {
                    let d = norms[r] + eps, row = r * n
                    var c = 0
                    while c + 8 <= n {
                        let v = UnsafeRawPointer(xp + row + c).loadUnaligned(as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(yp + row + c).storeBytes(of: v / SIMD8(repeating: d), as: SIMD8<Float>.self)
                        c += 8
                    }
                    while c < n { yp[row + c] = xp[row + c] / d; c += 1 }
                }
            }
        }
        return record(y, shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentNormalize(x, norms: norms, eps: eps, l1: l1, n: n) }) { t, g in
            let xv = t.values[x.id]
            var dx = g
            xv.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    dx.withUnsafeMutableBufferPointer { db in
                        guard let xp = xb.baseAddress, let gp = gb.baseAddress, let dp = db.baseAddress else { return }
                        let gxs = rowSums(rows: rows, n: n) { r, c in gp[r * n + c] * xp[r * n + c] }
                        for r in 0..<rows {
                            let s = norms[r], d = s + eps, row = r * n
                            // d(x/(s+eps)) = g/(s+eps) − x·(g·x)/(s+eps)²·(∂s/∂x), ∂s/∂x = x/s (l2) or sign(x) (l1).
                            let k = gxs[r] / (d * d)
                            var c = 0
                            if !l1 && s > 0 {
                                // The common case in lanes: the same divisions and products per element.
                                let dv = SIMD8(repeating: d), sv = SIMD8(repeating: s), kv = SIMD8(repeating: k)
                                while c + 8 <= n {
                                    let xi = UnsafeRawPointer(xp + row + c).loadUnaligned(as: SIMD8<Float>.self)
                                    let gi = UnsafeRawPointer(gp + row + c).loadUnaligned(as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(dp + row + c).storeBytes(of: gi / dv - kv * (xi / sv), as: SIMD8<Float>.self)
                                    c += 8
                                }
                            }
                            while c < n {
                                let xi = xp[row + c]
                                let ds: Float = l1 ? (xi > 0 ? 1 : (xi < 0 ? -1 : 0)) : (s > 0 ? xi / s : 0)
                                dp[row + c] = gp[row + c] / d - k * ds
                                c += 1
                            }
                        }
                    }
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
