import Foundation
import Imaging
import MSCNRandom

/// Paints a scene: a background tone with low-frequency texture, shapes anti-aliased by 4×4
/// supersampling, then mild per-pixel noise. All arithmetic in Double with a fixed order.
public enum Renderer {
    public static func render(_ scene: Scene, size: Int, rng: inout SeededGenerator) -> RGBImage {
        let n = size * size
        var r = [Double](repeating: 0, count: n), g = r, b = r
        // Texture: three random gratings and a brightness ramp.
        let bg = scene.background.rgb
        var gratings: [(Double, Double, Double, Double)] = []
        for _ in 0..<3 {
            let angle = rng.unitDouble() * Double.pi
            let freq = 2 + 6 * rng.unitDouble()
            gratings.append((cos(angle) * freq, sin(angle) * freq, rng.unitDouble() * 2 * Double.pi, 6 + 8 * rng.unitDouble()))
        }
        for y in 0..<size {
            for x in 0..<size {
                let u = (Double(x) + 0.5) / Double(size), v = (Double(y) + 0.5) / Double(size)
                var t = 0.0
                for (fx, fy, phase, amp) in gratings { t += amp * sin(2 * Double.pi * (fx * u + fy * v) + phase) }
                let i = y * size + x
                r[i] = bg.0 + t; g[i] = bg.1 + t; b[i] = bg.2 + t
            }
        }
        let samples = 4
        for o in scene.objects {
            let s = Double(size)
            let x0 = max(0, Int(((o.x - o.radius) * s).rounded(.down)) - 1)
            let x1 = min(size - 1, Int(((o.x + o.radius) * s).rounded(.up)) + 1)
            let y0 = max(0, Int(((o.y - o.radius) * s).rounded(.down)) - 1)
            let y1 = min(size - 1, Int(((o.y + o.radius) * s).rounded(.up)) + 1)
            guard x0 <= x1, y0 <= y1 else { continue }
            for py in y0...y1 {
                for px in x0...x1 {
                    var inside = 0
                    for sy in 0..<samples {
                        for sx in 0..<samples {
                            let u = (Double(px) + (Double(sx) + 0.5) / Double(samples)) / s
                            let v = (Double(py) + (Double(sy) + 0.5) / Double(samples)) / s
                            if contains(o, (u - o.x) / o.radius, (v - o.y) / o.radius) { inside += 1 }
                        }
                    }
                    guard inside > 0 else { continue }
                    let a = Double(inside) / Double(samples * samples)
                    let i = py * size + px
                    r[i] = (1 - a) * r[i] + a * o.paint.0
                    g[i] = (1 - a) * g[i] + a * o.paint.1
                    b[i] = (1 - a) * b[i] + a * o.paint.2
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: n * 3)
        func quantise(_ v: Double, _ rng: inout SeededGenerator) -> UInt8 {
            UInt8(min(255, max(0, (v + 5 * rng.normal()).rounded())))
        }
        for i in 0..<n {
            pixels[3 * i] = quantise(r[i], &rng)
            pixels[3 * i + 1] = quantise(g[i], &rng)
            pixels[3 * i + 2] = quantise(b[i], &rng)
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// Whether a point in object coordinates (unit = radius, y down) lies in the shape.
    static func contains(_ o: SceneObject, _ u: Double, _ v: Double) -> Bool {
        switch o.shape {
        case .circle: return u * u + v * v <= 1
        case .square: return abs(u) <= 0.8 && abs(v) <= 0.8
        case .diamond: return abs(u) + abs(v) <= 1
        case .cross: return (abs(u) <= 0.3 && abs(v) <= 1) || (abs(v) <= 0.3 && abs(u) <= 1)
        case .triangle:
            // Apex up at v = -1, base at v = 0.8.
            guard v >= -1 && v <= 0.8 else { return false }
            let half = (v + 1) / 1.8 * 1.0
            return abs(u) <= half
        }
    }
}
