import Foundation
import VectorLibm

/// Weights of one GRU direction in PyTorch's layout (gate rows r, z, n).
public struct GRUWeights {
    public var ih: Var, hh: Var, bih: Var, bhh: Var
    public init(ih: Var, hh: Var, bih: Var, bhh: Var) { self.ih = ih; self.hh = hh; self.bih = bih; self.bhh = bhh }
}

/// What one direction's backward needs from its forward.
struct GRUCache {
    var xi: [Float]      // [B·L, 3h] input projections incl. b_ih
    var r: [Float], z: [Float], n: [Float], ghn: [Float], hprev: [Float]  // [B·L, h] at each real position
}

extension Tape {
    /// Bidirectional one-layer GRU over x `[B, L, w]` where item b has `lengths[b]` real steps:
    /// padding never enters the recurrence, the backward direction starts at the last real word.
    /// Returns the average of the two directions `[B, L, h]`, padding rows zero.
    public func biGRU(_ x: Var, lengths: [Int], forward fw: GRUWeights, backward bw: GRUWeights) -> Var {
        let s = shape(x)
        let batch = s[0], steps = s[1], w = s[2]
        let h = shape(fw.hh)[1]
        precondition(lengths.count == batch && lengths.allSatisfy { $0 >= 1 && $0 <= steps }, "biGRU lengths \(lengths) for \(s)")
        let inputs = [x, fw.ih, fw.hh, fw.bih, fw.bhh, bw.ih, bw.hh, bw.bih, bw.bhh]
        let keep = anyNeedsGrad(inputs)  // inference keeps no gate activations
        let ((outF, cacheF), (outB, cacheB)) = ParallelRows.both(
            { self.gruDirection(x, lengths, fw, reverse: false, batch: batch, steps: steps, w: w, h: h, keepCache: keep) },
            { self.gruDirection(x, lengths, bw, reverse: true, batch: batch, steps: steps, w: w, h: h, keepCache: keep) })
        var y = outF
        for i in y.indices { y[i] = (outF[i] + outB[i]) / 2 }
        return record(y, shape: [batch, steps, h], requiresGrad: anyNeedsGrad(inputs),
                      tangent: { $0.biGRUTangent(x, lengths, fw, bw, cacheF, cacheB, batch: batch, steps: steps, w: w, h: h) }) { t, g in
            let half = g.map { $0 / 2 }
            let (gradF, gradB) = ParallelRows.both(
                { t.gruDirectionGradients(half, x, lengths, fw, cacheF, reverse: false, batch: batch, steps: steps, w: w, h: h) },
                { t.gruDirectionGradients(half, x, lengths, bw, cacheB, reverse: true, batch: batch, steps: steps, w: w, h: h) })
            // Forward direction first: both add into x's gradient, and the order of sums is fixed.
            t.accumulate(gradF, x, fw)
            t.accumulate(gradB, x, bw)
        }
    }

    func gruDirection(_ x: Var, _ lengths: [Int], _ p: GRUWeights, reverse: Bool,
                      batch: Int, steps: Int, w: Int, h: Int, keepCache: Bool) -> ([Float], GRUCache) {
        let h3 = 3 * h
        let xi = BLAS.linear(values[x.id], values[p.ih.id], bias: values[p.bih.id], m: batch * steps, n: h3, k: w)
        let bhh = values[p.bhh.id], whh = values[p.hh.id]
        let total = batch * steps * h
        // Written per (row, unit) from up to two threads (ParallelRows): raw buffers, copied out at the end.
        let outBuf = GateBuffer(total), stateBuf = GateBuffer(batch * h)
        let kept = keepCache ? (0..<5).map { _ in GateBuffer(total) } : []
        for k in 0..<steps {
            let active = (0..<batch).filter { lengths[$0] > k }
            if active.isEmpty { break }
            var hm = [Float](repeating: 0, count: active.count * h)
            for (a, b) in active.enumerated() { for c in 0..<h { hm[a * h + c] = stateBuf.p[b * h + c] } }
            let gh = BLAS.matmul(hm, whh, m: active.count, n: h3, k: h, transB: true)
            ParallelRows.forEach(count: active.count, costPerItem: 3 * h) { range in
                // One row's gates at a time, so the candidate's tanh runs as one vector call.
                let gates = UnsafeMutablePointer<Float>.allocate(capacity: 4 * h)
                defer { gates.deallocate() }
                let rRow = gates, zRow = gates + h, nRow = gates + 2 * h, ghnRow = gates + 3 * h
                for a in range {
                    let b = active[a]
                    let pos = reverse ? lengths[b] - 1 - k : k
                    let row = b * steps + pos
                    // The sigmoids' exponentials of r and z (adjacent rows) in one vector call.
                    for c in 0..<h {
                        rRow[c] = -(xi[row * h3 + c] + gh[a * h3 + c] + bhh[c])
                        zRow[c] = -(xi[row * h3 + h + c] + gh[a * h3 + h + c] + bhh[h + c])
                    }
                    ExpF.apply(rRow, rRow, 2 * h)
                    for c in 0..<h {
                        let r = 1 / (1 + rRow[c])
                        rRow[c] = r
                        zRow[c] = 1 / (1 + zRow[c])
                        let ghn = gh[a * h3 + 2 * h + c] + bhh[2 * h + c]
                        ghnRow[c] = ghn
                        nRow[c] = xi[row * h3 + 2 * h + c] + r * ghn
                    }
                    Tanh.apply(nRow, nRow, h)
                    for c in 0..<h {
                        let z = zRow[c], n = nRow[c]
                        let hp = hm[a * h + c]
                        let hn = (1 - z) * n + z * hp
                        let q = row * h + c
                        if keepCache {
                            kept[0].p[q] = rRow[c]; kept[1].p[q] = z; kept[2].p[q] = n
                            kept[3].p[q] = ghnRow[c]; kept[4].p[q] = hp
                        }
                        outBuf.p[q] = hn
                        stateBuf.p[b * h + c] = hn
                    }
                }
            }
        }
        var cache = GRUCache(xi: [], r: [], z: [], n: [], ghn: [], hprev: [])
        if keepCache {
            cache.r = kept[0].array; cache.z = kept[1].array; cache.n = kept[2].array
            cache.ghn = kept[3].array; cache.hprev = kept[4].array
        }
        let out = outBuf.array
        if keepCache { cache.xi = xi }
        return (out, cache)
    }

    /// One direction's gradients for x and its weights, given dOut; the tape is only read.
    func gruDirectionGradients(_ dOut: [Float], _ x: Var, _ lengths: [Int], _ p: GRUWeights, _ cache: GRUCache,
                               reverse: Bool, batch: Int, steps: Int, w: Int, h: Int) -> GRUDirectionGrads {
        let h3 = 3 * h
        let whh = values[p.hh.id]
        var dxi = [Float](repeating: 0, count: batch * steps * h3)
        var dwhh = [Float](repeating: 0, count: h3 * h), dbhh = [Float](repeating: 0, count: h3)
        var dstate = [Float](repeating: 0, count: batch * h)
        for k in stride(from: steps - 1, through: 0, by: -1) {
            let active = (0..<batch).filter { lengths[$0] > k }
            if active.isEmpty { continue }
            var dgh = [Float](repeating: 0, count: active.count * h3)
            var hm = [Float](repeating: 0, count: active.count * h)
            var dprev = [Float](repeating: 0, count: active.count * h)
            for (a, b) in active.enumerated() {
                let pos = reverse ? lengths[b] - 1 - k : k
                let row = b * steps + pos
                for c in 0..<h {
                    let q = row * h + c
                    let dh = dOut[q] + dstate[b * h + c]
                    let r = cache.r[q], z = cache.z[q], n = cache.n[q], hp = cache.hprev[q]
                    let dn = dh * (1 - z)
                    let dz = dh * (hp - n)
                    let dpn = dn * (1 - n * n)
                    let dpr = dpn * cache.ghn[q] * r * (1 - r)
                    let dpz = dz * z * (1 - z)
                    dxi[row * h3 + c] = dpr; dxi[row * h3 + h + c] = dpz; dxi[row * h3 + 2 * h + c] = dpn
                    dgh[a * h3 + c] = dpr; dgh[a * h3 + h + c] = dpz; dgh[a * h3 + 2 * h + c] = dpn * r
                    hm[a * h + c] = hp
                    dprev[a * h + c] = dh * z
                }
            }
            BLAS.matmulAdd(dgh, whh, into: &dprev, m: active.count, n: h, k: h3)
            BLAS.matmulAdd(dgh, hm, into: &dwhh, m: h3, n: h, k: active.count, transA: true)
            for a in 0..<active.count { for c in 0..<h3 { dbhh[c] += dgh[a * h3 + c] } }
            for (a, b) in active.enumerated() { for c in 0..<h { dstate[b * h + c] = dprev[a * h + c] } }
        }
        var grads = GRUDirectionGrads(hh: dwhh, bhh: dbhh)
        if needsGrad(p.ih) { grads.ih = BLAS.matmul(dxi, values[x.id], m: h3, n: w, k: batch * steps, transA: true) }
        if needsGrad(p.bih) {
            var db = [Float](repeating: 0, count: h3)
            for r in 0..<(batch * steps) { for c in 0..<h3 { db[c] += dxi[r * h3 + c] } }
            grads.bih = db
        }
        if needsGrad(x) { grads.x = BLAS.matmul(dxi, values[p.ih.id], m: batch * steps, n: w, k: h3) }
        return grads
    }

    /// Adds one direction's gradients into the tape, in the order its backward always used.
    func accumulate(_ g: GRUDirectionGrads, _ x: Var, _ p: GRUWeights) {
        accumulate(p.hh, g.hh)
        accumulate(p.bhh, g.bhh)
        if let ih = g.ih { accumulate(p.ih, ih) }
        if let bih = g.bih { accumulate(p.bih, bih) }
        if let dx = g.x { accumulate(x, dx) }
    }
}

/// One GRU direction's gradients (nil: that input needs none).
struct GRUDirectionGrads {
    var hh: [Float], bhh: [Float]
    var ih: [Float]? = nil, bih: [Float]? = nil, x: [Float]? = nil
}

/// A zeroed float buffer written at distinct indices by the GRU's gate workers.
final class GateBuffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}
