import Foundation
import VectorLibm

extension Tape {
    /// Applies `f` elementwise; `df(x, y)` is the derivative given input and output.
    func unary(_ x: Var, _ f: (Float) -> Float, _ df: @escaping (Float, Float) -> Float) -> Var {
        elementwise(x, values[x.id].map(f), df)
    }

    /// Records `y`, an elementwise function of `x` computed by the caller, with derivative `df(x, y)`.
    func elementwise(_ x: Var, _ y: [Float], _ df: @escaping (Float, Float) -> Float) -> Var {
        record(y, shape: shape(x), requiresGrad: needsGrad(x),
               tangent: { $0.tangentElementwise(x, y, df) }) { t, g in
            let xv = t.values[x.id]
            var dx = g
            for i in dx.indices { dx[i] *= df(xv[i], y[i]) }
            t.accumulate(x, dx)
        }
    }

    public func sigmoid(_ x: Var) -> Var {
        let y = ParallelRows.map(values[x.id], vectorized: Sigmoid.apply)
        return record(y, shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentElementwise(x, y) { _, y in (1 - y) * y } }) { t, g in
            // torch's order, g·(1−y)·y: a gradient that cancels across pairs is sensitive to it.
            var dx = g
            for i in dx.indices { dx[i] = dx[i] * (1 - y[i]) * y[i] }
            t.accumulate(x, dx)
        }
    }

    public func relu(_ x: Var) -> Var { unary(x, { max($0, 0) }, { x, _ in x > 0 ? 1 : 0 }) }
    public func leakyReLU(_ x: Var, slope: Float) -> Var {
        unary(x, { $0 > 0 ? $0 : slope * $0 }, { x, _ in x > 0 ? 1 : slope })
    }
    public func tanh(_ x: Var) -> Var {
        let y = ParallelRows.map(values[x.id], vectorized: Tanh.apply)
        // Not through `elementwise`: its derivative closure would be called once per element.
        return record(y, shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentElementwise(x, y) { _, y in 1 - y * y } }) { t, g in
            t.accumulate(x, zipped(g, y) { g, y in g * (1 - y * y) })
        }
    }
    public func square(_ x: Var) -> Var { unary(x, { $0 * $0 }, { x, _ in 2 * x }) }
    public func scale(_ x: Var, _ c: Float) -> Var { unary(x, { $0 * c }, { _, _ in c }) }

    /// Elementwise product with a fixed (non-differentiable) mask, e.g. dropout.
    public func mask(_ x: Var, _ m: [Float]) -> Var {
        let xv = values[x.id]
        precondition(m.count == xv.count, "mask size")
        return record(zipped(xv, m, *), shape: shape(x), requiresGrad: needsGrad(x),
                      tangent: { $0.tangentOfLinear([x]) { s, v in s.mask(v[0], m) } }) { t, g in
            t.accumulate(x, zipped(g, m, *))
        }
    }

    /// `a + b` (same shape).
    public func add(_ a: Var, _ b: Var) -> Var {
        precondition(shape(a) == shape(b), "add: \(shape(a)) vs \(shape(b))")
        var y = values[a.id]
        let bv = values[b.id]
        for i in y.indices { y[i] += bv[i] }
        return record(y, shape: shape(a), requiresGrad: anyNeedsGrad([a, b]),
                      tangent: { $0.tangentOfLinear([a, b]) { s, v in s.add(v[0], v[1]) } }) { t, g in
            t.accumulate(a, g)
            t.accumulate(b, g)
        }
    }

    /// `a − b` where b is broadcast over a's leading axes: a `[n, k]`, b `[k]` (or equal shapes).
    public func subBroadcast(_ a: Var, _ b: Var) -> Var {
        let av = values[a.id], bv = values[b.id], k = bv.count
        precondition(av.count % k == 0, "subBroadcast sizes")
        var y = av
        for i in y.indices { y[i] -= bv[i % k] }
        return record(y, shape: shape(a), requiresGrad: anyNeedsGrad([a, b]),
                      tangent: { $0.tangentOfLinear([a, b]) { s, v in s.subBroadcast(v[0], v[1]) } }) { t, g in
            t.accumulate(a, g)
            if t.needsGrad(b) {
                var db = [Float](repeating: 0, count: k)
                for i in g.indices { db[i % k] -= g[i] }
                t.accumulate(b, db)
            }
        }
    }

    /// `a ⊙ b` where b `[n, k]` is broadcast over a's middle axis: a `[n, m, k]`.
    public func mulBroadcastMiddle(_ a: Var, _ b: Var, middle m: Int) -> Var {
        let av = values[a.id], bv = values[b.id]
        let k = shape(b).last ?? 1, n = bv.count / k
        precondition(av.count == n * m * k, "mulBroadcastMiddle sizes \(shape(a)) \(shape(b))")
        return record(Self.timesMiddleBroadcast(av, bv, n: n, m: m, k: k), shape: shape(a), requiresGrad: anyNeedsGrad([a, b]),
                      tangent: { $0.tangentOfBilinear(a, b) { s, p, q in s.mulBroadcastMiddle(p, q, middle: m) } }) { t, g in
            let av = t.values[a.id], bv = t.values[b.id]
            if t.needsGrad(a) { t.accumulate(a, Self.timesMiddleBroadcast(g, bv, n: n, m: m, k: k)) }
            if t.needsGrad(b) {
                var db = [Float](repeating: 0, count: n * k)
                g.withUnsafeBufferPointer { gb in
                    av.withUnsafeBufferPointer { ab in
                        db.withUnsafeMutableBufferPointer { dbb in
                            for i in 0..<n { for j in 0..<m {
                                let row = (i * m + j) * k
                                for c in 0..<k { dbb[i * k + c] += gb[row + c] * ab[row + c] }
                            } }
                        }
                    }
                }
                t.accumulate(b, db)
            }
        }
    }

    /// `x[i, j, c] · b[i, c]` for x `[n, m, k]`, b `[n, k]`.
    static func timesMiddleBroadcast(_ x: [Float], _ b: [Float], n: Int, m: Int, k: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: x.count) { out, initialised in
            x.withUnsafeBufferPointer { xb in
                b.withUnsafeBufferPointer { bb in
                    for i in 0..<n { for j in 0..<m {
                        let row = (i * m + j) * k
                        for c in 0..<k { out[row + c] = xb[row + c] * bb[i * k + c] }
                    } }
                }
            }
            initialised = x.count
        }
    }
}

/// `f(a[i], b[i])` for every i, through raw pointers so the loop vectorises (the same operations
/// on each element as an indexed loop).
@inline(__always)
func zipped(_ a: [Float], _ b: [Float], _ f: (Float, Float) -> Float) -> [Float] {
    precondition(a.count == b.count, "zipped: \(a.count) and \(b.count) elements")
    return [Float](unsafeUninitializedCapacity: a.count) { out, initialised in
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { out[i] = f(pa[i], pb[i]) }
            }
        }
        initialised = a.count
    }
}
