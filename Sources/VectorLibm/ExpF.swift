/// `expf` bit-identical to the libm of Debian 12 (glibc 2.36) on a CPU with FMA, four lanes at a
/// time.
///
/// glibc computes `expf` in double precision: x·32/ln2 = k + r, with k rounded to nearest by
/// adding 1.5·2⁵²; 2^(k/32) from a 32-entry table of 2^(i/32), k's high bits added to its
/// exponent; 2^(r/32) from a cubic in r; one rounding to float at the end. Its FMA build (the
/// one its dispatcher picks on every AVX2 machine) fuses four multiply-adds, so `value` does the
/// same double operations with those four as `addingProduct`, which is exactly rounded on every
/// machine. Scalar `expf` calls were an eighth of an all-pairs evaluation (the softmaxes over
/// regions and over a caption's graph nodes); the lanes take them off the libm call path without
/// changing any published number, and make results independent of the machine's FMA support
/// (glibc's non-FMA build rounds differently).
/// `mscn-bench expf` compares both forms with the platform's `expf` on every one of the 2³² floats.
public enum ExpF {
    // glibc 2.36's constants (bit patterns checked by ExpFTests).
    static let invLn2N = Double(bitPattern: 0x4047_1547_652b_82fe)  // 32/ln2
    static let shift = Double(bitPattern: 0x4338_0000_0000_0000)    // 1.5·2⁵²: adding it rounds to an integer
    static let c0 = Double(bitPattern: 0x3ebc_6af8_4b91_2394)       // cubic of 2^(r/32) − 1, highest first
    static let c1 = Double(bitPattern: 0x3f2e_bfce_50fa_c4f3)
    static let c2 = Double(bitPattern: 0x3f96_2e42_ff0c_52d6)
    static let overflow = Float(bitPattern: 0x42b1_7217)            // above: +∞
    static let underflow = Float(bitPattern: 0xc2cf_f1b4)           // below: 0
    static let subnormalFloor = Float(bitPattern: 0xc2ce_8ecf)      // below (to underflow): 2⁻¹⁴⁹

    /// bits(2^(i/32)) − i·2⁴⁷, 2^(i/32) rounded to the nearest double: adding k·2⁴⁷ for k ≡ i
    /// (mod 32) gives the bits of 2^(k/32) (ExpFTests checks every entry in extended precision).
    /// A literal of a trivial type is initialised statically, so reading it costs no lazy-global
    /// check (a table behind `swift_once` made the scalar form six times slower than libm's).
    static let table: [UInt64] = [
        0x3ff0_0000_0000_0000, 0x3fef_d9b0_d315_8574, 0x3fef_b558_6cf9_890f, 0x3fef_9301_d012_5b51,
        0x3fef_72b8_3c7d_517b, 0x3fef_5487_3168_b9aa, 0x3fef_387a_6e75_6238, 0x3fef_1e9d_f51f_dee1,
        0x3fef_06fe_0a31_b715, 0x3fee_f1a7_373a_a9cb, 0x3fee_dea6_4c12_3422, 0x3fee_ce08_6061_892d,
        0x3fee_bfda_d536_2a27, 0x3fee_b42b_569d_4f82, 0x3fee_ab07_dd48_5429, 0x3fee_a47e_b03a_5585,
        0x3fee_a09e_667f_3bcd, 0x3fee_9f75_e8ec_5f74, 0x3fee_a114_73eb_0187, 0x3fee_a589_994c_ce13,
        0x3fee_ace5_422a_a0db, 0x3fee_b737_b0cd_c5e5, 0x3fee_c491_82a3_f090, 0x3fee_d503_b23e_255d,
        0x3fee_e89f_995a_d3ad, 0x3fee_ff76_f2fb_5e47, 0x3fef_199b_dd85_529c, 0x3fef_3720_dcef_9069,
        0x3fef_5818_dcfb_a487, 0x3fef_7c97_337b_9b5f, 0x3fef_a4af_a2a4_90da, 0x3fef_d076_5b6e_4540,
    ]

    /// Scalar expf.
    public static func value(_ x: Float) -> Float {
        let bits = x.bitPattern
        if (bits >> 20) & 0x7ff >= 0x42b {  // |x| ≥ 88, or not finite
            if bits == 0xff80_0000 { return 0 }
            if (bits >> 20) & 0x7ff >= 0x7f8 { return x + x }
            if x > overflow { return .infinity }
            if x < underflow { return 0 }
            if x < subnormalFloor { return Float(bitPattern: 1) }
        }
        return core(Double(x))
    }

    @inline(__always) static func core(_ xd: Double) -> Float {
        let shifted = shift.addingProduct(invLn2N, xd)
        let ki = shifted.bitPattern
        let kd = shifted - shift
        let r = (-kd).addingProduct(invLn2N, xd)
        let s = Double(bitPattern: table[Int(ki & 31)] &+ (ki &<< 47))
        let z = c1.addingProduct(r, c0)
        let r2 = r * r
        let y = (1.0).addingProduct(r, c2).addingProduct(z, r2)
        return Float(y * s)
    }

    /// `y[i] = expf(x[i])` for `i < count`; `x` and `y` may be the same buffer.
    public static func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + 4 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: four(v), as: SIMD4<Float>.self)
            i += 4
        }
        // The tail as one padded vector (lanes are independent).
        if i < count {
            var v = SIMD4<Float>(repeating: 0)
            for j in 0..<(count - i) { v[j] = x[i + j] }
            let r = four(v)
            for j in 0..<(count - i) { y[i + j] = r[j] }
        }
    }

    @inline(__always) static func four(_ v: SIMD4<Float>) -> SIMD4<Float> {
        lanes(v) ?? SIMD4(value(v[0]), value(v[1]), value(v[2]), value(v[3]))
    }

    /// Four lanes of `core`, or nil when a lane has |x| ≥ 88 or is not finite (`value` then
    /// takes its branches).
    @inline(__always) static func lanes(_ v: SIMD4<Float>) -> SIMD4<Float>? {
        let top = (unsafeBitCast(v, to: SIMD4<UInt32>.self) &>> 20) & 0x7ff
        if any(top .>= 0x42b) { return nil }
        let xd = SIMD4<Double>(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]))
        let shifted = SIMD4<Double>(repeating: shift).addingProduct(SIMD4(repeating: invLn2N), xd)
        let ki = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let kd = shifted - shift
        let r = (-kd).addingProduct(SIMD4(repeating: invLn2N), xd)
        let index = ki & 31
        let entries = SIMD4<UInt64>(table[Int(index[0])], table[Int(index[1])], table[Int(index[2])], table[Int(index[3])])
        let s = unsafeBitCast(entries &+ (ki &<< 47), to: SIMD4<Double>.self)
        let z = SIMD4<Double>(repeating: c1).addingProduct(r, SIMD4(repeating: c0))
        let r2 = r * r
        let y = SIMD4<Double>(repeating: 1).addingProduct(r, SIMD4(repeating: c2)).addingProduct(z, r2)
        let p = y * s
        return SIMD4<Float>(Float(p[0]), Float(p[1]), Float(p[2]), Float(p[3]))
    }
}
