import Dispatch
import Engine
import Foundation

/// `Tanh` against the platform's `tanhf` on every one of the 2³² floats (bit for bit; NaN
/// inputs must give NaN), and the speed of the three on a typical activation range.
/// `make bench BENCH=tanh` (about two minutes on two cores).
enum TanhBench {
    static var all: [Benchmark] { [Benchmark(name: "tanh", run: run)] }

    static func run() {
        speed()
        fflush(stdout)
        exhaustive()
    }

    static func exhaustive() {
        let chunks = 1 << 12, perChunk = (1 << 32) / chunks
        let lock = NSLock()
        var scalarMismatches = 0, vectorMismatches = 0
        var firstMismatch: UInt32?
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var x = [Float](repeating: 0, count: perChunk), y = [Float](repeating: 0, count: perChunk)
            for i in 0..<perChunk { x[i] = Float(bitPattern: UInt32(chunk * perChunk + i)) }
            x.withUnsafeBufferPointer { s in
                y.withUnsafeMutableBufferPointer { d in
                    if let sp = s.baseAddress, let dp = d.baseAddress { Tanh.apply(sp, dp, perChunk) }
                }
            }
            var scalarBad = 0, vectorBad = 0
            var first: UInt32?
            for i in 0..<perChunk {
                let want = Foundation.tanh(x[i])
                let same: (Float) -> Bool = { want.isNaN ? $0.isNaN : $0.bitPattern == want.bitPattern }
                if !same(Tanh.value(x[i])) { scalarBad += 1; first = first ?? x[i].bitPattern }
                if !same(y[i]) { vectorBad += 1; first = first ?? x[i].bitPattern }
            }
            lock.lock()
            scalarMismatches += scalarBad
            vectorMismatches += vectorBad
            if let first, firstMismatch == nil || first < firstMismatch ?? 0 { firstMismatch = first }
            lock.unlock()
        }
        print(String(format: "all 2^32 floats in %.0f s: scalar form %d mismatches, vector form %d mismatches against tanhf",
                     Date().timeIntervalSince(start), scalarMismatches, vectorMismatches))
        if let firstMismatch {
            let x = Float(bitPattern: firstMismatch)
            print("first mismatch at bits 0x\(String(firstMismatch, radix: 16)) (x = \(x)): tanhf \(Foundation.tanh(x)), scalar \(Tanh.value(x))")
        }
    }

    static func speed() {
        let n = 1 << 20
        var noise = SimilarityBench.Noise(state: 7)
        let x = (0..<n).map { _ in 4 * noise.next() }
        var y = [Float](repeating: 0, count: n)
        var sink: Float = 0
        func time(_ name: String, _ body: () -> Void) {
            body()
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = Date()
                body()
                best = min(best, Date().timeIntervalSince(t0))
            }
            sink += y[n / 2]
            print(String(format: "%@: %.2f ns per value (best of 5, 2^20 values in [-4, 4])", name, best / Double(n) * 1e9))
        }
        time("tanhf (libm)") { for i in 0..<n { y[i] = Foundation.tanh(x[i]) } }
        time("Tanh.value (scalar)") { for i in 0..<n { y[i] = Tanh.value(x[i]) } }
        time("Tanh.apply (8 lanes)") {
            x.withUnsafeBufferPointer { s in
                y.withUnsafeMutableBufferPointer { d in
                    if let sp = s.baseAddress, let dp = d.baseAddress { Tanh.apply(sp, dp, n) }
                }
            }
        }
        if sink.isNaN { print("") }
    }
}
