import Foundation
import TestSupport
import XCTest

/// `MSCN_SERIAL_BLAS=1` (speed only, outside every stage key) must give OpenBLAS's two-thread
/// results bit for bit. It needs OpenBLAS 0.3.21 with two threads and its Haswell kernels, which
/// the pipelines pin; elsewhere it declines and says why, and these tests say so too (skip).
final class SerialBLASTests: XCTestCase {
    /// The kernel pin as the pipelines apply it: a machine's own OPENBLAS_CORETYPE is kept.
    static let haswell: [String: String] =
        ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil ? ["OPENBLAS_CORETYPE": "Haswell"] : [:]

    /// The replay's status when asked for under the pipelines' kernel pin, nil when it runs.
    func refusal() throws -> String? {
        let r = try runProduct("mscn", ["blas-check", "--products", "1"], environment: Self.haswell.merging(["MSCN_SERIAL_BLAS": "1"]) { $1 })
        return r.status == 2 ? r.stderr : nil
    }

    /// Random products of every transposition, depth blocking (k > 320) and row blocking (sides
    /// above 640, the second run) included, against OpenBLAS's own two threads.
    func testReplayedProductsMatchOpenBLASTwoThreads() throws {
        if let why = try refusal() { throw XCTSkip("replay not available on this machine: \(why)") }
        for (products, side, depth, seed) in [("200", "300", "700", "11"), ("6", "1400", "400", "12")] {
            let r = try runProduct("mscn", ["blas-check", "--products", products, "--max-side", side, "--max-depth", depth, "--seed", seed],
                                   environment: Self.haswell.merging(["MSCN_SERIAL_BLAS": "1"]) { $1 })
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("all bit-identical"), r.stdout)
        }
    }

    /// A warm-up epoch at the built-in sizes (its GRU products are above OpenBLAS's threading
    /// threshold) writes the same checkpoint with and without the replay, and with the replay on
    /// one thread (`MSCN_THREADS=1`: the replay keeps the two-thread split, the kernel's workers
    /// and the two-closure sections run in turn).
    func testWarmupCheckpointIsTheSameWithTheReplay() throws {
        if let why = try refusal() { throw XCTSkip("replay not available on this machine: \(why)") }
        let e = try TinyExperiment.shared(by: Self.self)
        let sizes = ["--embed-size", "64", "--sim-dim", "32", "--word-dim", "32", "--warmup-batch-size", "32",
                     "--batch-size", "32", "--warmup-epochs", "1", "--lr", "0.0005"]
        var checkpoints: [Data] = []
        for (serial, oneThread) in [(false, false), (true, false), (true, true)] {
            let out = e.path("warmup-serial-\(serial)-\(oneThread).ckpt")
            var env = Self.haswell
            if serial { env["MSCN_SERIAL_BLAS"] = "1" }
            if oneThread { env["MSCN_THREADS"] = "1" }
            let r = try runProduct("mscn-train", ["--mode", "warmup", "--net", "a"] + e.common + sizes + ["--out", out, "--log", out + ".log"],
                                   environment: env)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stderr.contains("MSCN_SERIAL_BLAS=1 ignored"), r.stderr)
            checkpoints.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        XCTAssertEqual(checkpoints[0], checkpoints[1], "with the replay")
        XCTAssertEqual(checkpoints[0], checkpoints[2], "with the replay on one thread")
    }

    /// Under the pipelines' kernels a linear layer writes its bias before the product (up to
    /// the depth OpenBLAS blocks k by): the bits of adding it after, with OpenBLAS's threads and
    /// with the replay; elsewhere the form is off and says so.
    func testBiasFirstLinearGivesTheBitsOfBiasAfter() throws {
        let probe = try runProduct("mscn", ["blas-check", "--bias-first", "--products", "1"], environment: Self.haswell)
        if probe.status == 2 { throw XCTSkip("bias-first form off on this machine: \(probe.stderr)") }
        for serial in [false, true] {
            let env = Self.haswell.merging(serial ? ["MSCN_SERIAL_BLAS": "1"] : [:]) { $1 }
            let r = try runProduct("mscn", ["blas-check", "--bias-first", "--products", "120", "--max-side", "200", "--seed", "3"],
                                   environment: env)
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("all bit-identical"), r.stdout)
            XCTAssertFalse(r.stdout.contains("(0 of them bias-first"), r.stdout)
        }
        let native = try runProduct("mscn", ["blas-check", "--bias-first", "--products", "1"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(native.status, 2, native.stdout + native.stderr)
        XCTAssertTrue(native.stderr.contains("bias-first form is off"), native.stderr)
    }

    /// Under the pipelines' kernels, products leaving out aligned runs of zero depth positions
    /// give the whole product's bits with OpenBLAS's two threads, with the replay and with one
    /// thread (each takes its own depth blocking); elsewhere they are never left out.
    func testZeroDepthSkippingGivesTheBitsOfTheWholeProduct() throws {
        try assertSkippingCheck("--zero-depth", ["--products", "150", "--max-side", "90", "--max-depth", "800", "--seed", "5"],
                                noneLeftOut: "(0 left some out)", off: "never dropped here")
    }

    /// Under the pipelines' kernels, products leaving out the kernel tiles of all-zero rows give
    /// the whole product's bits with OpenBLAS's two threads (small products, below its threading
    /// threshold), with the replay (its two-thread split) and with one thread, for β = 0 and 1 and
    /// a C holding negative zeros; elsewhere they are never left out.
    func testZeroRowsSkippingGivesTheBitsOfTheWholeProduct() throws {
        try assertSkippingCheck("--zero-rows", ["--products", "100", "--max-side", "150", "--max-depth", "700", "--seed", "7"],
                                noneLeftOut: "(0 left kernel tiles out)", off: "never left out here")
    }

    /// `mscn blas-check <check>` passes in the three settings, each leaving something out, and
    /// exits 2 (saying `off`) under another kernel.
    private func assertSkippingCheck(_ check: String, _ arguments: [String], noneLeftOut: String, off: String) throws {
        let probe = try runProduct("mscn", ["blas-check", check, "--products", "1"], environment: Self.haswell)
        if probe.status == 2 { throw XCTSkip("\(check) off on this machine: \(probe.stderr)") }
        for extra in [[:], ["MSCN_SERIAL_BLAS": "1"], ["OPENBLAS_NUM_THREADS": "1"]] {
            let r = try runProduct("mscn", ["blas-check", check] + arguments, environment: Self.haswell.merging(extra) { $1 })
            XCTAssertEqual(r.status, 0, "\(extra): " + r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("all bit-identical"), r.stdout)
            XCTAssertFalse(r.stdout.contains(noneLeftOut), r.stdout)
        }
        let native = try runProduct("mscn", ["blas-check", check, "--products", "1"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(native.status, 2, native.stdout + native.stderr)
        XCTAssertTrue(native.stderr.contains(off), native.stderr)
    }

    /// Where it cannot reproduce OpenBLAS (here: one OpenBLAS thread), the replay declines with
    /// the reason and leaves the products to OpenBLAS; unset, it is off.
    func testDeclinedWithTheReasonWhereItDoesNotApply() throws {
        let r = try runProduct("mscn", ["blas-check", "--products", "1"],
                               environment: Self.haswell.merging(["OPENBLAS_NUM_THREADS": "1", "MSCN_SERIAL_BLAS": "1"]) { $1 })
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("ignored"), r.stderr)
        let unset = try runProduct("mscn", ["blas-check", "--products", "1"], environment: Self.haswell)
        XCTAssertEqual(unset.status, 2)
        XCTAssertTrue(unset.stderr.contains("OpenBLAS's own threads"), unset.stderr)
    }
}
