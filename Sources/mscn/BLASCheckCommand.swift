import ArgumentParser
import Engine
import Foundation
import StageKit

/// `mscn blas-check`: whether `MSCN_SERIAL_BLAS=1` reproduces OpenBLAS's two-thread products
/// bit for bit on this machine, before trusting it with a cache of published results.
struct BLASCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas-check",
        abstract: "Check that MSCN_SERIAL_BLAS=1 gives OpenBLAS's two-thread results bit for bit.",
        discussion: """
            Run as `OPENBLAS_CORETYPE=Haswell MSCN_SERIAL_BLAS=1 mscn blas-check`. Random products \
            of every transposition go through the engine's sgemm (replayed on one thread) and \
            through OpenBLAS with two threads; every value must have the same bits. Exits 1 on any \
            difference, 2 when the replay is not in effect (the reason is printed).
            """
    )
    @Option(help: "Random products to compare.") var products: Int = 500
    @Option(help: "Largest row or column count of a product.") var maxSide: Int = 400
    @Option(help: "Largest inner dimension (beyond 320 OpenBLAS blocks the depth).") var maxDepth: Int = 700
    @Option(help: "Seed of the shapes and values.") var seed: UInt64 = 0
    @Flag(help: ArgumentHelp("Check instead that a linear layer's bias written before the product gives the bits of adding it after.",
                             discussion: "The engine does so up to the depth where OpenBLAS's Haswell kernels block k (320); exits 2 under other kernels, where it never does."))
    var biasFirst = false
    @Flag(help: ArgumentHelp("Check instead that products dropping zero stretches of their depth give the bits of the whole product.",
                             discussion: "The training steps' weight gradients drop the rows of pairs without gradient so, in aligned runs of 8 inside OpenBLAS's depth blocks, under OpenBLAS 0.3.21's Haswell kernels (exits 2 elsewhere, where they compute the whole product)."))
    var zeroDepth = false
    @Flag(help: ArgumentHelp("Check instead that products leaving out the kernel tiles of all-zero rows give the bits of the whole product.",
                             discussion: "The training steps' data gradients leave out the node rows of pairs without gradient so, in tiles of 12 rows as OpenBLAS 0.3.21's Haswell kernel computes them, on one thread or replayed (MSCN_SERIAL_BLAS=1); exits 2 under other kernels, where they compute the whole product."))
    var zeroRows = false

    func validate() throws {
        guard products >= 1, maxSide >= 1, maxDepth >= 1 else {
            throw ValidationError("--products, --max-side and --max-depth must be at least 1")
        }
        if [biasFirst, zeroDepth, zeroRows].filter({ $0 }).count > 1 {
            throw ValidationError("--bias-first, --zero-depth and --zero-rows are separate checks: pick one")
        }
    }

    func run() throws {
        if biasFirst { return try checkBiasFirst() }
        if zeroDepth { return try checkZeroDepth() }
        if zeroRows { return try checkZeroRows() }
        try requireReplay()
        let started = Date()
        let result = BLAS.checkSerialReplay(count: products, maxSide: maxSide, maxDepth: maxDepth, seed: seed)
        let seconds = Date().timeIntervalSince(started)
        guard BLAS.serialReplay.active else {
            print("the replay did not come back on after the reference products (BLAS.useSerialReplay)")
            throw ExitCode(1)
        }
        try report(result.mismatches,
                   passed: String(format: "%d products (%d of them above OpenBLAS's threading threshold): all bit-identical (%.1f s)",
                                  products, result.splitCount, seconds),
                   failed: "\(result.mismatches.count) of \(products) products differ from OpenBLAS's two threads: do not use MSCN_SERIAL_BLAS=1 here")
    }

    func checkBiasFirst() throws {
        try checkHaswellForm(never: "the bias-first form is off here", {
            let r = BLAS.checkBiasFirst(count: products, maxSide: maxSide, seed: seed)
            return (r.biasFirst, r.mismatches)
        }, passed: { "\(products) linear layers (\($0) of them bias-first, depth ≤ \(BLAS.singleBlockDepth))" },
           failed: "linear layers differ with the bias first")
    }

    func checkZeroDepth() throws {
        try checkHaswellForm(never: "zero depth stretches are never dropped here", {
            let r = BLAS.checkZeroDepth(count: products, maxSide: maxSide, maxDepth: maxDepth, seed: seed)
            return (r.leftOut, r.mismatches)
        }, passed: { "\(products) products with zero depth stretches (\($0) left some out)" },
           failed: "products differ when their zero depth stretches are dropped")
    }

    func checkZeroRows() throws {
        try checkHaswellForm(never: "zero rows are never left out here", {
            let r = BLAS.checkZeroRows(count: products, maxSide: maxSide, maxDepth: maxDepth, seed: seed)
            return (r.leftOut, r.mismatches)
        }, passed: { "\(products) products with zero rows (\($0) left kernel tiles out)" },
           failed: "products differ when their zero rows' kernel tiles are left out")
    }

    /// A form that rests on OpenBLAS 0.3.21's Haswell kernels: exits 2 elsewhere (`never` says
    /// why); `run` gives how many products used the form and the mismatches.
    private func checkHaswellForm<Mismatch: CustomStringConvertible>(never: String, _ run: () -> (Int, [Mismatch]),
                                                                     passed: (Int) -> String, failed: String) throws {
        try requireHaswellDepthBlocking(never)
        let (used, mismatches) = run()
        try report(mismatches, passed: passed(used) + ", \(BLAS.serialReplay.status): all bit-identical",
                   failed: "\(mismatches.count) of \(products) " + failed)
    }

    private func requireReplay() throws {
        let replay = BLAS.serialReplay
        guard replay.active else {
            FileHandle.standardError.write(Data("mscn blas-check: the replay is not in effect: \(replay.status)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Both forms rest on the depth blocking of OpenBLAS 0.3.21's Haswell kernels: exit 2 elsewhere.
    private func requireHaswellDepthBlocking(_ what: String) throws {
        guard BLAS.singleBlockDepth > 0 else {
            FileHandle.standardError.write(Data("mscn blas-check: \(what) (OpenBLAS 0.3.21 with its Haswell or Zen kernels only)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// `passed` when nothing differs; else the first differences, `failed`, and exit 1.
    private func report<Mismatch: CustomStringConvertible>(_ mismatches: [Mismatch], passed: String, failed: String) throws {
        if mismatches.isEmpty {
            print(passed)
            return
        }
        for m in mismatches.prefix(20) { print("differs: \(m)") }
        print(failed)
        throw ExitCode(1)
    }
}
