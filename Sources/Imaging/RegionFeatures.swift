import Foundation
import MSCNRandom

/// Grid region descriptors for the built-in (image-folder) layout: the image is cut into a
/// `grid`×`grid` lattice (36 regions by default, like bottom-up features) and each region gets a
/// vector that separates colour, texture and shape, so words like "red" and "triangle" have
/// something to align with.
///
/// Raw descriptor (128 values per region), three parts each power-normalised (signed square root)
/// and L2-normalised, then the whole vector L2-normalised:
/// - colour (32): 12 hue bins × {dark, bright} weighted by chroma (soft-binned), 4 grey levels
///   weighted by lack of saturation, mean RGB, luminance spread;
/// - shape (32): unsigned gradient-orientation histogram (8 bins, magnitude weighted, soft) in each
///   of 2×2 sub-cells — squares give 0°/90° edges, triangles slanted ones, circles all angles;
/// - texture (64): 32 fixed random 3×3×3 filters (zero mean, seeded) with ReLU, evaluated at
///   every second pixel in x and y (a quarter of the cost, same texture statistics), mean- and
///   max-pooled over the region.
/// `dimension` other than 128 pads with zeros (larger) or applies a fixed seeded Gaussian projection
/// (smaller), then re-normalises. Every step is scalar/SIMD Swift with a fixed order: bit-identical
/// output for the same pixels and seed on every machine.
public struct RegionFeatureExtractor: Sendable {
    public static let rawDimension = 128
    public static let filterCount = 32
    public let grid: Int
    public let dimension: Int
    let filters: [SIMD8<Float>]  // [27, 4]: lane j of filters[4k + q] is tap k of filter 8q + j
    let projection: [Float]?       // [dimension, 128] when projecting down

    public init(dimension: Int = 128, grid: Int = 6, seed: UInt64 = 0) {
        precondition(dimension > 0 && grid > 0)
        self.grid = grid
        self.dimension = dimension
        var rng = SeededGenerator(seed: seed, stream: "features-filters")
        var taps = [[Float]](repeating: [Float](repeating: 0, count: 27), count: Self.filterCount)
        for f in 0..<Self.filterCount {
            var w = (0..<27).map { _ in Float(rng.normal()) }
            let mean = w.reduce(0, +) / 27
            w = w.map { $0 - mean }
            let norm = sqrt(w.reduce(0) { $0 + $1 * $1 })
            taps[f] = w.map { $0 / max(norm, 1e-6) }
        }
        var bank = [SIMD8<Float>](repeating: .zero, count: 27 * 4)
        for k in 0..<27 {
            for f in 0..<Self.filterCount { bank[4 * k + f / 8][f % 8] = taps[f][k] }
        }
        filters = bank
        if dimension < Self.rawDimension {
            var prng = SeededGenerator(seed: seed, stream: "features-projection")
            let scale = 1 / Float(Double(dimension).squareRoot())
            projection = (0..<(dimension * Self.rawDimension)).map { _ in Float(prng.normal()) * scale }
        } else {
            projection = nil
        }
    }

    public var regionCount: Int { grid * grid }

    /// Features of one image, `[grid*grid, dimension]` row-major, written into `out`.
    public func extract(_ image: RGBImage, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count == regionCount * dimension)
        let w = image.width, h = image.height, n = w * h
        var rgb = [Float](repeating: 0, count: n * 3)
        var lum = [Float](repeating: 0, count: n)
        var hue = [Float](repeating: 0, count: n)   // 0..<12
        var chroma = [Float](repeating: 0, count: n)
        var value = [Float](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let r = Float(p[3 * i]) / 255, g = Float(p[3 * i + 1]) / 255, b = Float(p[3 * i + 2]) / 255
                rgb[3 * i] = r; rgb[3 * i + 1] = g; rgb[3 * i + 2] = b
                lum[i] = 0.299 * r + 0.587 * g + 0.114 * b
                let mx = max(r, g, b), mn = min(r, g, b), c = mx - mn
                chroma[i] = c
                value[i] = mx
                if c > 1e-6 {
                    var hh: Float
                    if mx == r { hh = (g - b) / c } else if mx == g { hh = 2 + (b - r) / c } else { hh = 4 + (r - g) / c }
                    if hh < 0 { hh += 6 }
                    hue[i] = hh * 2
                }
            }
        }
        // Gradients (central differences, clamped at the border) and filter responses per pixel.
        var mag = [Float](repeating: 0, count: n)
        var ori = [Float](repeating: 0, count: n)  // 0..<8, unsigned orientation
        let nf = Self.filterCount
        var resp = [SIMD8<Float>](repeating: .zero, count: n * 4)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                let gx = lum[y * w + min(x + 1, w - 1)] - lum[y * w + max(x - 1, 0)]
                let gy = lum[min(y + 1, h - 1) * w + x] - lum[max(y - 1, 0) * w + x]
                mag[i] = (gx * gx + gy * gy).squareRoot()
                var a = atan2(gy, gx)
                if a < 0 { a += .pi }
                if a >= .pi { a -= .pi }
                ori[i] = a / .pi * 8
            }
        }
        // Filter bank: a 27-tap patch per pixel times the [27, 32] bank, ReLU.
        rgb.withUnsafeBufferPointer { src in
            filters.withUnsafeBufferPointer { bank in
                resp.withUnsafeMutableBufferPointer { dst in
                    var patch = [Float](repeating: 0, count: 27)
                    patch.withUnsafeMutableBufferPointer { patch in
                        for y in stride(from: 0, to: h, by: 2) {
                            for x in stride(from: 0, to: w, by: 2) {
                                var k = 0
                                for dy in -1...1 {
                                    let yy = min(max(y + dy, 0), h - 1)
                                    for dx in -1...1 {
                                        let s = 3 * (yy * w + min(max(x + dx, 0), w - 1))
                                        patch[k] = src[s] - 0.5
                                        patch[k + 1] = src[s + 1] - 0.5
                                        patch[k + 2] = src[s + 2] - 0.5
                                        k += 3
                                    }
                                }
                                // Four 8-wide accumulators: 32 filters, taps summed in a fixed order.
                                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                                for k in 0..<27 {
                                    let p = SIMD8<Float>(repeating: patch[k])
                                    a0 += p * bank[4 * k]
                                    a1 += p * bank[4 * k + 1]
                                    a2 += p * bank[4 * k + 2]
                                    a3 += p * bank[4 * k + 3]
                                }
                                let o = (y * w + x) * 4
                                dst[o] = lanewiseMax(a0, .zero)
                                dst[o + 1] = lanewiseMax(a1, .zero)
                                dst[o + 2] = lanewiseMax(a2, .zero)
                                dst[o + 3] = lanewiseMax(a3, .zero)
                            }
                        }
                    }
                }
            }
        }
        var raw = [Float](repeating: 0, count: Self.rawDimension)
        for gy in 0..<grid {
            let y0 = gy * h / grid, y1 = (gy + 1) * h / grid
            for gx in 0..<grid {
                let x0 = gx * w / grid, x1 = (gx + 1) * w / grid
                for j in 0..<raw.count { raw[j] = 0 }
                var count: Float = 0
                var lumSum: Float = 0, lumSq: Float = 0
                var sumResp = [SIMD8<Float>](repeating: .zero, count: 4), maxResp = sumResp
                var respCount: Float = 0
                let ym = (y0 + y1) / 2, xm = (x0 + x1) / 2
                for y in y0..<max(y1, y0 + 1) where y < h {
                    for x in x0..<max(x1, x0 + 1) where x < w {
                        let i = y * w + x
                        count += 1
                        // Colour: hue soft-binned between its two nearest bins, dark/bright split.
                        let c = chroma[i]
                        if c > 0.02 {
                            let hpos = hue[i] - 0.5
                            let lo = hpos.rounded(.down)
                            let frac = hpos - lo
                            let b0 = (Int(lo) + 12) % 12, b1 = (b0 + 1) % 12
                            let bright: Float = min(max((value[i] - 0.35) / 0.3, 0), 1)
                            raw[b0] += c * (1 - frac) * (1 - bright); raw[b1] += c * frac * (1 - bright)
                            raw[12 + b0] += c * (1 - frac) * bright; raw[12 + b1] += c * frac * bright
                        }
                        let grey = 1 - min(c / max(value[i], 1e-3), 1)
                        let level = min(Int(value[i] * 4), 3)
                        raw[24 + level] += grey
                        raw[28] += rgb[3 * i]; raw[29] += rgb[3 * i + 1]; raw[30] += rgb[3 * i + 2]
                        lumSum += lum[i]; lumSq += lum[i] * lum[i]
                        // Shape: orientation soft-binned (circular over 8 bins) into its sub-cell.
                        let sub = (y < ym ? 0 : 2) + (x < xm ? 0 : 1)
                        let opos = ori[i] - 0.5
                        let olo = opos.rounded(.down)
                        let of = opos - olo
                        let o0 = (Int(olo) + 8) % 8, o1 = (o0 + 1) % 8
                        raw[32 + sub * 8 + o0] += mag[i] * (1 - of)
                        raw[32 + sub * 8 + o1] += mag[i] * of
                        if (x | y) & 1 == 0 {
                            respCount += 1
                            for q in 0..<4 {
                                let v = resp[4 * i + q]
                                sumResp[q] += v
                                maxResp[q] = lanewiseMax(maxResp[q], v)
                            }
                        }
                    }
                }
                let inv = 1 / max(count, 1)
                raw[28] *= inv; raw[29] *= inv; raw[30] *= inv
                let mean = lumSum * inv
                raw[31] = max(lumSq * inv - mean * mean, 0).squareRoot()
                for f in 0..<nf {
                    raw[64 + f] = sumResp[f / 8][f % 8] / max(respCount, 1)
                    raw[96 + f] = maxResp[f / 8][f % 8]
                }
                normalise(&raw, 0..<32)
                normalise(&raw, 32..<64)
                normalise(&raw, 64..<128)
                let region = gy * grid + gx
                write(raw, into: UnsafeMutableBufferPointer(rebasing: out[(region * dimension)..<((region + 1) * dimension)]))
            }
        }
    }

    /// Convenience for tests and small inputs: `[regions * dimension]` floats.
    public func extract(_ image: RGBImage) -> [Float] {
        var out = [Float](repeating: 0, count: regionCount * dimension)
        out.withUnsafeMutableBufferPointer { extract(image, into: $0) }
        return out
    }

    private func normalise(_ v: inout [Float], _ range: Range<Int>) {
        var ss: Float = 0
        for j in range {
            let s = v[j] < 0 ? -(-v[j]).squareRoot() : v[j].squareRoot()
            v[j] = s
            ss += s * s
        }
        let inv = 1 / max(ss.squareRoot(), 1e-6)
        for j in range { v[j] *= inv }
    }

    private func write(_ raw: [Float], into out: UnsafeMutableBufferPointer<Float>) {
        var ss: Float = 0
        if let projection {
            for d in 0..<dimension {
                var s: Float = 0
                for j in 0..<Self.rawDimension { s += projection[d * Self.rawDimension + j] * raw[j] }
                out[d] = s
                ss += s * s
            }
        } else {
            for d in 0..<dimension {
                let s = d < Self.rawDimension ? raw[d] : 0
                out[d] = s
                ss += s * s
            }
        }
        let inv = 1 / max(ss.squareRoot(), 1e-6)
        for d in 0..<dimension { out[d] *= inv }
    }
}

/// The standard library's generic `pointwiseMax` is not specialised well here (it dominated the
/// profile); a lane loop compiles to plain `maxss`/`maxps`.
@inline(__always)
func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    var r = a
    for j in 0..<8 where b[j] > r[j] { r[j] = b[j] }
    return r
}
