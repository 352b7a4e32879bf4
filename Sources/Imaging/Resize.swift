/// Deterministic resizing by area averaging: each output pixel is the mean of the source area
/// it covers (fractional coverage at the edges), which is exact box filtering when shrinking and
/// nearest-neighbour-like when enlarging. Separable, computed in Float, rounded half up.
public enum Resize {
    public static func area(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0)
        if image.width == width && image.height == height { return image }
        let wx = weights(from: image.width, to: width)
        let wy = weights(from: image.height, to: height)
        // Horizontal pass: [srcH, width, 3].
        var horizontal = [Float](repeating: 0, count: image.height * width * 3)
        image.pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let row = y * image.width * 3
                    for x in 0..<width {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for (sx, w) in wx[x] {
                            let s = row + 3 * sx
                            r += w * Float(src[s]); g += w * Float(src[s + 1]); b += w * Float(src[s + 2])
                        }
                        let d = (y * width + x) * 3
                        dst[d] = r; dst[d + 1] = g; dst[d + 2] = b
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        horizontal.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for i in 0..<(width * 3) {
                        var v: Float = 0
                        for (sy, w) in wy[y] { v += w * src[sy * width * 3 + i] }
                        dst[y * width * 3 + i] = UInt8(max(0, min(255, (v + 0.5).rounded(.down))))
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// For each output index, the source indices it covers and their weights (summing to 1).
    static func weights(from n: Int, to m: Int) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { i in
            let lo = Double(i) * scale, hi = Double(i + 1) * scale
            var list: [(Int, Float)] = []
            var s = Int(lo.rounded(.down))
            while Double(s) < hi && s < n {
                let cover = min(hi, Double(s + 1)) - max(lo, Double(s))
                if cover > 1e-9 { list.append((s, Float(cover / scale))) }
                s += 1
            }
            return list
        }
    }
}
