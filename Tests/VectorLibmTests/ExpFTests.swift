import Foundation
import TestSupport
import XCTest
@testable import VectorLibm

/// `ExpF` must reproduce glibc 2.36's FMA `expf` bit for bit; `mscn-bench expf` checks all 2³²
/// floats, these tests a structured sample.
final class ExpFTests: XCTestCase {
    /// Every (sign, exponent) with mantissas at both ends and spread between, ±16 ulps around
    /// each branch point, and a dense run over the softmax range [−40, 0].
    static let sample: [Float] = {
        let points: [Float] = [88, -88, ExpF.overflow, ExpF.underflow, ExpF.subnormalFloor, -87.33655, 0]
        var x = PlatformLibm.sample(around: points, bothSigns: false)
        for i in 0..<40_000 { x.append(-40 * Float(i) / 40_000) }
        return x
    }()

    func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

    /// Each entry plus i·2⁴⁷ is 2^(i/32) rounded to the nearest double (checked in 64-bit precision).
    func testTableHoldsTheNearestDoublesOfTheThirtySecondPowersOfTwo() {
        XCTAssertEqual(ExpF.table.count, 32)
        for (i, entry) in ExpF.table.enumerated() {
            let d = Double(bitPattern: entry &+ (UInt64(i) << 47))
            #if arch(x86_64)
            let exact = Float80.twoToThe(thirtySeconds: i)
            XCTAssertLessThanOrEqual(abs(Float80(d) - exact), Float80(d.ulp) / 2, "entry \(i)")
            #else
            XCTAssertEqual(d, Foundation.exp2(Double(i) / 32), accuracy: d.ulp, "entry \(i)")
            #endif
        }
        XCTAssertEqual(ExpF.invLn2N, 32 / M_LN2, accuracy: 1e-13)
        XCTAssertEqual(ExpF.shift, 0x1.8p52)
    }

    func testBranchPointsAndSpecialValues() {
        XCTAssertEqual(ExpF.value(0), 1)
        XCTAssertEqual(ExpF.value(-.infinity), 0)
        XCTAssertEqual(ExpF.value(.infinity), .infinity)
        XCTAssertTrue(ExpF.value(.nan).isNaN)
        XCTAssertTrue(ExpF.value(ExpF.overflow).isFinite)
        XCTAssertEqual(ExpF.value(ExpF.overflow.nextUp), .infinity)
        XCTAssertEqual(ExpF.value(ExpF.underflow.nextDown), 0)
        XCTAssertEqual(ExpF.value(ExpF.underflow), Float.leastNonzeroMagnitude)
    }

    func testVectorFormEqualsScalarFormLaneByLane() {
        let x = Self.sample
        // Odd count and offset: full vectors, the scalar tail, and blocks with special lanes.
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { s in
            y.withUnsafeMutableBufferPointer { d in
                guard let sp = s.baseAddress, let dp = d.baseAddress else { return }
                ExpF.apply(sp + 3, dp + 3, x.count - 3)
            }
        }
        var bad = 0
        for i in 3..<x.count where !same(y[i], ExpF.value(x[i])) {
            bad += 1
            if bad <= 5 { XCTFail("x = \(x[i]) (0x\(String(x[i].bitPattern, radix: 16))): vector \(y[i]), scalar \(ExpF.value(x[i]))") }
        }
        XCTAssertEqual(bad, 0)
        // In place.
        var z = Array(x[1000..<1037])
        z.withUnsafeMutableBufferPointer { b in
            guard let p = b.baseAddress else { return }
            ExpF.apply(p, p, b.count)
        }
        XCTAssertEqual(z.map(\.bitPattern), x[1000..<1037].map { ExpF.value($0).bitPattern })
    }

    func testScalarFormEqualsThePlatformExpf() throws {
        // glibc picks its FMA build of expf on FMA CPUs; other releases may compute it differently.
        let version = PlatformLibm.glibcVersion ?? "not glibc"
        try XCTSkipUnless(version == "2.36", "\(version): bit-equality is checked against glibc 2.36's expf")
        try XCTSkipUnless(PlatformLibm.cpuHasFMA, "no FMA: glibc runs its non-fused expf, which rounds differently")
        let bad = PlatformLibm.mismatches(Self.sample, ours: ExpF.value, platform: { Foundation.exp($0) })
        XCTAssertEqual(bad.count, 0, bad.first)
    }

    /// Wherever the libm differs, the form stays within 1 ulp of e^x (checked on every platform).
    func testScalarFormIsWithinOneUlpOfDoublePrecisionExp() {
        let far = PlatformLibm.beyondUlps(1, Self.sample, ours: ExpF.value, exact: { Foundation.exp($0) })
        XCTAssertEqual(far.count, 0, far.prefix(5).joined(separator: "; "))
    }
}

#if arch(x86_64)
private extension Float80 {
    /// 2^(n/32) as (2^(1/32))ⁿ, the root by five square roots of 2 (64-bit mantissa: the error
    /// stays far below a double's half ulp).
    static func twoToThe(thirtySeconds n: Int) -> Float80 {
        var root = Float80(2)
        for _ in 0..<5 { root = root.squareRoot() }
        var r: Float80 = 1
        for _ in 0..<n { r *= root }
        return r
    }
}
#endif
