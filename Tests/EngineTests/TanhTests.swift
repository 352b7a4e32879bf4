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
        // tanh: 2⁻⁵⁵, 1, 22; expm1 at a = 2x: ln2/2, 1.5·ln2, 2⁻²⁵, and the k boundaries (k·ln2 ± ln2/2).
        var points: [Float] = [Float(bitPattern: 0x2400_0000), 1, 22, Float(bitPattern: 0x3eb1_7218) / 2,
                               Float(bitPattern: 0x3f85_1592) / 2, Float(bitPattern: 0x3300_0000) / 2]
        for k in 1...64 { points.append((Float(k) + 0.5) * Float(M_LN2) / 2) }
        return PlatformLibm.sample(around: points, bothSigns: true)
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
        let bad = PlatformLibm.mismatches(Self.sample, ours: Tanh.value, platform: { Foundation.tanh($0) })
        XCTAssertEqual(bad.count, 0, bad.first)
    }

    /// Wherever the libm differs, the form stays within 2 ulps of tanh (checked on every platform).
    func testScalarFormIsWithinTwoUlpsOfDoublePrecisionTanh() {
        let far = PlatformLibm.beyondUlps(2, Self.sample, ours: Tanh.value, exact: { Foundation.tanh($0) })
        XCTAssertEqual(far.count, 0, far.prefix(5).joined(separator: "; "))
    }
}
