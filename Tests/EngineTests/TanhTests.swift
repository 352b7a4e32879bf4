import Foundation
import XCTest
@testable import Engine
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `Tanh` must reproduce the platform's `tanhf` bit for bit (Debian 12's glibc 2.36, where
/// `tanhf` is fdlibm's); `mscn-bench tanh` checks all 2³² floats, these tests a structured sample.
final class TanhTests: XCTestCase {
    /// Every (sign, exponent) with mantissas at both ends and spread between, and ±16 ulps around
    /// each branch point of tanh and of the expm1 it calls (arguments ±2|x|).
    static let sample: [Float] = {
        var bits: [UInt32] = []
        for signExponent in UInt32(0)..<512 {
            let base = signExponent << 23
            for m in [0, 1, 2, 0x7f_fffe, 0x7f_ffff] as [UInt32] { bits.append(base | m) }
            for j in UInt32(1)..<48 { bits.append(base | (j &* 0x2_a9a5 % 0x80_0000)) }
        }
        // tanh: 2⁻⁵⁵, 1, 22; expm1 at a = 2x: ln2/2, 1.5·ln2, 2⁻²⁵, and the k boundaries (k·ln2 ± ln2/2).
        var points: [Float] = [Float(bitPattern: 0x2400_0000), 1, 22, Float(bitPattern: 0x3eb1_7218) / 2,
                               Float(bitPattern: 0x3f85_1592) / 2, Float(bitPattern: 0x3300_0000) / 2]
        for k in 1...64 { points.append((Float(k) + 0.5) * Float(M_LN2) / 2) }
        for p in points {
            for d in -16...16 {
                let b = UInt32(bitPattern: Int32(bitPattern: p.bitPattern) &+ Int32(d))
                bits.append(b)
                bits.append(b | 0x8000_0000)
            }
        }
        return bits.map { Float(bitPattern: $0) }
    }()

    func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

    func testConstantsAreFdlibmsBitPatterns() {
        let expected: [(Float, UInt32)] = [(Tanh.ln2Hi, 0x3f31_7180), (Tanh.ln2Lo, 0x3717_f7d1), (Tanh.invLn2, 0x3fb8_aa3b),
                                           (Tanh.q1, 0xbd08_8889), (Tanh.q2, 0x3ad0_0d01), (Tanh.q3, 0xb8a6_70cd),
                                           (Tanh.q4, 0x3686_7e54), (Tanh.q5, 0xb457_edbb), (Tanh.overflow, 0x42b1_7180)]
        for (value, bits) in expected { XCTAssertEqual(value.bitPattern, bits, "\(value)") }
    }

    func testVectorFormEqualsScalarFormLaneByLane() {
        let x = Self.sample
        // Odd count and offset: full vectors, the scalar tail, and blocks with NaN/inf lanes.
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { s in
            y.withUnsafeMutableBufferPointer { d in
                Tanh.apply(s.baseAddress! + 3, d.baseAddress! + 3, x.count - 3)
            }
        }
        var bad = 0
        for i in 3..<x.count where !same(y[i], Tanh.value(x[i])) {
            bad += 1
            if bad <= 5 { XCTFail("x = \(x[i]) (0x\(String(x[i].bitPattern, radix: 16))): vector \(y[i]), scalar \(Tanh.value(x[i]))") }
        }
        XCTAssertEqual(bad, 0)
        XCTAssertEqual(ParallelRows.map([.nan, .infinity, -.infinity, 0, -0.0, 30, -30, 0.5, 3], vectorized: Tanh.apply).map(\.bitPattern),
                       [Float.nan, 1, -1, 0, -0.0, 1, -1, Foundation.tanh(0.5), Foundation.tanh(3)].map(\.bitPattern))
    }

    func testScalarFormEqualsThePlatformTanhf() throws {
        // Other glibc releases may compute tanhf differently (2.41 and later: correctly rounded).
        let version = PlatformLibm.glibcVersion ?? "not glibc"
        try XCTSkipUnless(version == "2.36", "\(version): bit-equality is checked against glibc 2.36's fdlibm tanhf")
        var bad = 0
        for x in Self.sample where !same(Tanh.value(x), Foundation.tanh(x)) {
            bad += 1
            if bad <= 5 { XCTFail("x = \(x) (0x\(String(x.bitPattern, radix: 16))): Tanh \(Tanh.value(x)), tanhf \(Foundation.tanh(x))") }
        }
        XCTAssertEqual(bad, 0)
    }

    /// Wherever the libm differs, the form stays within 2 ulps of tanh (checked on every platform).
    func testScalarFormIsWithinTwoUlpsOfDoublePrecisionTanh() {
        for x in Self.sample where x.isFinite {
            let y = Tanh.value(x), exact = Foundation.tanh(Double(x))
            let ulp = Double(Float(exact).ulp)
            XCTAssertLessThanOrEqual(abs(Double(y) - exact), 2 * max(ulp, Double(Float.leastNonzeroMagnitude)), "x = \(x)")
        }
    }
}
