/// `tanh` for Float, bit-identical to the libm of Debian 12 (glibc 2.36), eight lanes at a time.
///
/// glibc 2.36 computes `tanhf` with the classic fdlibm algorithm: `expm1f` of ±2|x|, reduced by
/// k·ln2 and a degree-5 polynomial in float arithmetic, then `1 − 2/(t+2)` or `−t/(t+2)`. Every
/// step is a plain IEEE float operation, so doing the same operations per lane gives the same bits.
/// Scalar `tanhf` calls were about a quarter of a purification pass (the caption GRU's gates, the
/// self-attention layers); the vector form takes all of them off the libm call path without
/// changing any published number. `value` is the scalar form (tails and non-finite lanes), written
/// branch by branch as the algorithm defines it; `apply` runs all branches per lane and selects.
///
/// It also makes results independent of the libm version: newer glibc releases compute `tanhf`
/// differently (correctly rounded), which would otherwise move last bits from machine to machine.
/// `mscn-bench tanh` compares both forms with the platform's `tanhf` on every one of the 2³² floats.
public enum Tanh {
    // fdlibm's constants (hexadecimal forms checked by TanhTests).
    static let ln2Hi: Float = 6.9313812256e-01      // 0x3f317180: k·ln2Hi is exact for |k| < 2⁸
    static let ln2Lo: Float = 9.0580006145e-06      // 0x3717f7d1
    static let invLn2: Float = 1.4426950216e+00     // 0x3fb8aa3b
    static let q1: Float = -3.3333335072e-02        // 0xbd088889
    static let q2: Float = 1.5873016091e-03         // 0x3ad00d01
    static let q3: Float = -7.9365076090e-05        // 0xb8a670cd
    static let q4: Float = 4.0082177293e-06         // 0x36867e54
    static let q5: Float = -2.0109921195e-07        // 0xb457edbb
    static let overflow: Float = 8.8721679688e+01   // 0x42b17180

    /// Scalar tanh.
    public static func value(_ x: Float) -> Float {
        let bits = x.bitPattern, ax = bits & 0x7fff_ffff
        if ax >= 0x7f80_0000 { return x.isNaN ? x + x : (x > 0 ? 1 : -1) }
        if ax < 0x2400_0000 { return x }              // |x| < 2⁻⁵⁵ (and ±0): x·(1+x) rounds to x
        if ax >= 0x41b0_0000 { return x > 0 ? 1 : -1 } // |x| ≥ 22
        let z: Float
        if ax >= 0x3f80_0000 {
            let t = expm1(2 * abs(x))
            z = 1 - 2 / (t + 2)
        } else {
            let t = expm1(-2 * abs(x))
            z = -t / (t + 2)
        }
        return bits & 0x8000_0000 == 0 ? z : -z
    }

    /// Scalar e^x − 1 (fdlibm's argument reduction and rational correction).
    static func expm1(_ input: Float) -> Float {
        var x = input
        let bits = x.bitPattern, negative = bits & 0x8000_0000 != 0, ax = bits & 0x7fff_ffff
        if ax >= 0x4195_b844 {                         // |x| ≥ 27·ln2
            if ax >= 0x42b1_7218 {
                if ax > 0x7f80_0000 { return x + x }
                if ax == 0x7f80_0000 { return negative ? -1 : x }
                if x > overflow { return .infinity }
            }
            if negative { return -1 }
        }
        var k: Int32 = 0
        var c: Float = 0
        if ax > 0x3eb1_7218 {                          // |x| > ln2/2: x = k·ln2 + (hi − lo)
            let hi: Float, lo: Float
            if ax < 0x3f85_1592 {                      // |x| < 1.5·ln2
                if negative { hi = x + ln2Hi; lo = -ln2Lo; k = -1 } else { hi = x - ln2Hi; lo = ln2Lo; k = 1 }
            } else {
                k = Int32(invLn2 * x + (negative ? -0.5 : 0.5))  // truncation, as C's conversion
                let t = Float(k)
                hi = x - t * ln2Hi
                lo = t * ln2Lo
            }
            x = hi - lo
            c = (hi - x) - lo
        } else if ax < 0x3300_0000 {                   // |x| < 2⁻²⁵
            return x
        }
        let hfx = 0.5 * x
        let hxs = x * hfx
        let r1 = 1 + hxs * (q1 + hxs * (q2 + hxs * (q3 + hxs * (q4 + hxs * q5))))
        let t3 = 3 - r1 * hfx
        var e = hxs * ((r1 - t3) / (6 - x * t3))
        if k == 0 { return x - (x * e - hxs) }
        e = x * (e - c) - c
        e -= hxs
        if k == -1 { return 0.5 * (x - e) - 0.5 }
        if k == 1 { return x < -0.25 ? -2 * (e - (x + 0.5)) : 1 + 2 * (x - e) }
        if k <= -2 || k > 56 { return scaled(1 - (e - x), by: k) - 1 }
        if k < 23 {
            return scaled((1 - powerOfTwo(-k)) - (e - x), by: k)
        }
        var y = x - (e + powerOfTwo(-k))
        y += 1
        return scaled(y, by: k)
    }

    /// y·2ᵏ by adding k to the exponent field (y is normal and stays so here).
    @inline(__always) static func scaled(_ y: Float, by k: Int32) -> Float {
        Float(bitPattern: UInt32(bitPattern: Int32(bitPattern: y.bitPattern) &+ (k &<< 23)))
    }

    @inline(__always) static func powerOfTwo(_ k: Int32) -> Float {
        Float(bitPattern: UInt32(bitPattern: (0x7f &+ k) &<< 23))
    }

    /// `y[i] = tanh(x[i])` for `i < count`; `x` and `y` may be the same buffer.
    public static func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let r: SIMD8<Float>
            if let fast = lanes(v) {
                r = fast
            } else {
                var s = v
                for j in 0..<8 { s[j] = value(v[j]) }
                r = s
            }
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { y[i] = value(x[i]); i += 1 }
    }

    /// Lanes of y·2ᵏ, given k·2²³.
    @inline(__always) static func scaled(_ y: SIMD8<Float>, _ kShift: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(y, to: SIMD8<Int32>.self) &+ kShift, to: SIMD8<Float>.self)
    }

    /// Lanes rounded toward zero (as C's float-to-int conversion), for |v| < 2²²: the nearest
    /// integer of |v| by adding and removing 1.5·2²³, one less where that rounded up, sign put
    /// back. (`rounded(.towardZero)` calls `truncf` per lane without SSE4.1.)
    @inline(__always) static func truncated(_ v: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(v, to: SIMD8<UInt32>.self)
        let magnitude = unsafeBitCast(bits & 0x7fff_ffff, to: SIMD8<Float>.self)
        var r = (magnitude + 12_582_912) - 12_582_912
        r.replace(with: r - 1, where: r .> magnitude)
        return unsafeBitCast(unsafeBitCast(r, to: SIMD8<UInt32>.self) | (bits & 0x8000_0000), to: SIMD8<Float>.self)
    }

    /// Eight lanes of `value`, or nil when a lane is not finite (those go through `value`).
    ///
    /// For |x| in [2⁻⁵⁵, 22) the expm1 argument a = ±2|x| lies in (−2, 0] ∪ [2, 44): never the
    /// overflow or saturation branch, so only reduction (k = 0, k = ±1, rounded k), the tiny
    /// argument case and the five reconstructions of e^a − 1 remain; each is computed for all
    /// lanes and the lane's own branch is selected. fdlibm's thresholds on bit patterns are
    /// compared as floats (the same order for non-negative finite values): integer lane
    /// comparisons compile to per-lane loops in Swift, float ones to one instruction.
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float>? {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let absx = unsafeBitCast(bits & 0x7fff_ffff, to: SIMD8<Float>.self)
        if any(.!(absx .< .infinity)) { return nil }
        let large = absx .>= 1                                // a = 2|x|, else a = −2|x|
        let a = (2 * absx).replacing(with: -2 * absx, where: .!large)
        let aa = 2 * absx
        let aNegative = a .< 0
        let reduced = aa .> threshold(0x3eb1_7218)             // |a| > ln2/2
        let mid = aa .< threshold(0x3f85_1592)                 // |a| < 1.5·ln2
        let half = SIMD8<Float>(repeating: 0.5).replacing(with: -0.5, where: aNegative)
        var kf = truncated(invLn2 * a + half)
        kf.replace(with: SIMD8<Float>(repeating: 1).replacing(with: -1, where: aNegative), where: mid)
        kf.replace(with: 0, where: .!reduced)
        // k·ln2Hi and k·ln2Lo are what fdlibm computes for k = ±1 too (hi = a ∓ ln2Hi, lo = ±ln2Lo).
        let hi = a - kf * ln2Hi
        let lo = kf * ln2Lo
        let xr = (hi - lo).replacing(with: a, where: .!reduced)
        let c = ((hi - xr) - lo).replacing(with: 0, where: .!reduced)
        let hfx = 0.5 * xr
        let hxs = xr * hfx
        let r1 = 1 + hxs * (q1 + hxs * (q2 + hxs * (q3 + hxs * (q4 + hxs * q5))))
        let t3 = 3 - r1 * hfx
        let e0 = hxs * ((r1 - t3) / (6 - xr * t3))
        let resultK0 = xr - (xr * e0 - hxs)
        var e = xr * (e0 - c) - c
        e -= hxs
        let resultMinus1 = 0.5 * (xr - e) - 0.5
        let resultPlus1 = (1 + 2 * (xr - e)).replacing(with: -2 * (e - (xr + 0.5)), where: xr .< -0.25)
        // k as an integer: kf + 1.5·2²³ holds k in its low mantissa bits (|k| < 64 here).
        let ki = unsafeBitCast(kf + 12_582_912, to: SIMD8<Int32>.self) &- 0x4b40_0000
        let kShift = ki &<< 23
        let twoToMinusK = unsafeBitCast((0x7f &- ki) &<< 23, to: SIMD8<Float>.self)
        let resultFar = scaled(1 - (e - xr), kShift) - 1                   // k ≤ −2 or k > 56
        let resultSmallK = scaled((1 - twoToMinusK) - (e - xr), kShift)    // 2 ≤ k < 23
        var yLarge = xr - (e + twoToMinusK)                                // 23 ≤ k ≤ 56
        yLarge += 1
        let resultLargeK = scaled(yLarge, kShift)
        var t = resultLargeK
        t.replace(with: resultSmallK, where: kf .< 23)
        t.replace(with: resultFar, where: (kf .<= -2) .| (kf .> 56))
        t.replace(with: resultPlus1, where: kf .== 1)
        t.replace(with: resultMinus1, where: kf .== -1)
        t.replace(with: resultK0, where: kf .== 0)
        t.replace(with: a, where: aa .< threshold(0x3300_0000))            // |a| < 2⁻²⁵: expm1(a) = a
        var z = (-t / (t + 2)).replacing(with: 1 - 2 / (t + 2), where: large)
        z.replace(with: 1, where: absx .>= 22)
        z = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) | (bits & 0x8000_0000), to: SIMD8<Float>.self)
        z.replace(with: x, where: absx .< threshold(0x2400_0000))          // |x| < 2⁻⁵⁵ (and ±0)
        return z
    }

    @inline(__always) static func threshold(_ bits: UInt32) -> Float { Float(bitPattern: bits) }
}
