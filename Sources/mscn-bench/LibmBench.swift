import Dispatch
import Engine
import Foundation
import VectorLibm

/// Our bit-identical libm functions against the platform's on every one of the 2³² floats (bit
/// for bit; NaN inputs must give NaN), and the speed of the three forms on a typical range.
/// `make bench BENCH=tanh` / `BENCH=expf` (about two minutes each on two cores).
enum LibmBench {
    /// One function in its three forms.
    struct Function {
        var name: String
        /// The libm function's C name.
        var platformName: String
        var platform: (Float) -> Float
        var scalar: (Float) -> Float
        var vector: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
        var vectorName: String
        /// Speed inputs are uniform in [−range, range].
        var range: Float
    }

    static let tanh = Function(name: "tanh", platformName: "tanhf", platform: { Foundation.tanh($0) }, scalar: { Tanh.value($0) }, vector: Tanh.apply,
                               vectorName: "Tanh.apply (8 lanes)", range: 4)
    static let expf = Function(name: "expf", platformName: "expf", platform: { Foundation.exp($0) }, scalar: { ExpF.value($0) }, vector: ExpF.apply,
                               vectorName: "ExpF.apply (4 lanes)", range: 10)

    static var all: [Benchmark] {
        [tanh, expf].map { f in Benchmark(name: f.name) { speed(f); fflush(stdout); exhaustive(f) } }
    }

    static func exhaustive(_ f: Function) {
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
                    if let sp = s.baseAddress, let dp = d.baseAddress { f.vector(sp, dp, perChunk) }
                }
            }
            var scalarBad = 0, vectorBad = 0
            var first: UInt32?
            for i in 0..<perChunk {
                let want = f.platform(x[i])
                let same: (Float) -> Bool = { want.isNaN ? $0.isNaN : $0.bitPattern == want.bitPattern }
                if !same(f.scalar(x[i])) { scalarBad += 1; first = first ?? x[i].bitPattern }
                if !same(y[i]) { vectorBad += 1; first = first ?? x[i].bitPattern }
            }
            lock.lock()
            scalarMismatches += scalarBad
            vectorMismatches += vectorBad
            if let first, firstMismatch == nil || first < firstMismatch ?? 0 { firstMismatch = first }
            lock.unlock()
        }
        print(String(format: "all 2^32 floats in %.0f s: scalar form %d mismatches, vector form %d mismatches against %@",
                     Date().timeIntervalSince(start), scalarMismatches, vectorMismatches, f.platformName))
        if let firstMismatch {
            let x = Float(bitPattern: firstMismatch)
            print("first mismatch at bits 0x\(String(firstMismatch, radix: 16)) (x = \(x)): platform \(f.platform(x)), scalar \(f.scalar(x))")
        }
    }

    static func speed(_ f: Function) {
        let n = 1 << 20
        var noise = SimilarityBench.Noise(state: 7)
        let x = (0..<n).map { _ in f.range * noise.next() }
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
            print(String(format: "%@: %.2f ns per value (best of 5, 2^20 values in [-%g, %g])", name, best / Double(n) * 1e9,
                         Double(f.range), Double(f.range)))
        }
        time("\(f.platformName) (libm)") { for i in 0..<n { y[i] = f.platform(x[i]) } }
        time("scalar form") { for i in 0..<n { y[i] = f.scalar(x[i]) } }
        time(f.vectorName) {
            x.withUnsafeBufferPointer { s in
                y.withUnsafeMutableBufferPointer { d in
                    if let sp = s.baseAddress, let dp = d.baseAddress { f.vector(sp, dp, n) }
                }
            }
        }
        if sink.isNaN { print("") }
    }
}
