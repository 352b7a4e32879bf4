import CBLAS
import Foundation
import SimilarityKernels

/// The fused pair similarity: forward and forward+backward at training batch sizes, and the
/// sharded all-pairs inference of evaluation, against cblas_sgemm measured in the same run.
enum SimilarityBench {
    static var all: [Benchmark] { [Benchmark(name: "similarity", run: run)] }

    /// MSCN_SIM_WORKERS overrides the kernel's worker count (to compare against BLAS threading);
    /// MSCN_SIM_QUICK=1 (or =256) runs only the SGR training case at d=1024 (or d=256).
    static var workers: Int? { ProcessInfo.processInfo.environment["MSCN_SIM_WORKERS"].flatMap { Int($0) } }

    static func run() {
        let gemm = sgemmRate(1024)
        print(String(format: "cblas_sgemm 1024²: %.1f GFLOP/s", gemm))
        switch ProcessInfo.processInfo.environment["MSCN_SIM_QUICK"] {
        case "1": return training(module: .sgr(steps: 3), dim: 1024, simDim: 256, batch: 64, gemm: gemm)
        case "256": return training(module: .sgr(steps: 3), dim: 256, simDim: 64, batch: 64, gemm: gemm)
        default: break
        }
        for (d, s) in [(1024, 256), (256, 64)] {
            for module in [SimilarityModule.sgr(steps: 3), .saf] {
                training(module: module, dim: d, simDim: s, batch: 64, gemm: gemm)
            }
        }
        evaluation(images: 1000, captions: 5000, dim: 1024, simDim: 256, gemm: gemm)
    }

    /// A SplitMix64 stream for synthetic inputs (nothing here feeds an artefact).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 24) * 2 - 1
        }
        mutating func rows(_ n: Int, _ d: Int) -> [Float] {
            var out = [Float](repeating: 0, count: n * d)
            for r in 0..<n {
                var ss: Float = 0
                for k in 0..<d { let v = next(); out[r * d + k] = v; ss += v * v }
                let inv = 1 / ss.squareRoot()
                for k in 0..<d { out[r * d + k] *= inv }
            }
            return out
        }
        mutating func linear(_ o: Int, _ i: Int) -> LinearParams {
            let a = (6 / Float(o + i)).squareRoot()
            return LinearParams(weight: (0..<(o * i)).map { _ in a * next() }, bias: [Float](repeating: 0, count: o),
                                outFeatures: o, inFeatures: i)
        }
    }

    static func params(_ module: SimilarityModule, dim d: Int, simDim s: Int, noise: inout Noise) -> SimilarityParams {
        var p = SimilarityParams(tranLoc: noise.linear(s, d), tranGlo: noise.linear(s, d))
        switch module {
        case .sgr(let steps):
            for _ in 0..<steps { p.sgr.append((noise.linear(s, s), noise.linear(s, s), noise.linear(s, s))) }
        case .saf:
            p.safAttn = noise.linear(1, s)
            p.safBN = BatchNormState(weight: [1], bias: [0], runningMean: [0], runningVar: [1])
        }
        return p
    }

    static func inputs(images: Int, captions: Int, regions: Int, length: Int, dim d: Int, noise: inout Noise) -> SimilarityInputs {
        SimilarityInputs(images: noise.rows(images * regions, d), imageGlobal: noise.rows(images, d),
                         captions: noise.rows(captions * length, d), lengths: [Int](repeating: length, count: captions),
                         captionGlobal: noise.rows(captions, d), imageCount: images, captionCount: captions,
                         regions: regions, maxLength: length, dim: d)
    }

    /// Forward flops of one pair (GEMM-shaped work and the per-pair edge products).
    static func pairFlops(_ module: SimilarityModule, regions R: Int, length L: Int, dim d: Int, simDim s: Int) -> Double {
        let (r, l, dd, ss) = (Double(R), Double(L), Double(d), Double(s))
        var f = 2 * r * l * dd * 2          // region·word products, attention·regions
        f += 2 * l * dd * ss + 2 * dd * ss  // Linear_loc over words, Linear_glo
        let n = l + 1
        switch module {
        case .sgr(let steps):
            f += Double(steps - 1) * (3 * 2 * n * ss * ss + 2 * 2 * n * n * ss)
            f += 2 * n * ss * ss + 2 * 2 * ss * ss + 2 * 2 * n * ss  // last round: keys, node-0 query/graph
        case .saf:
            f += 4 * n * ss
        }
        return f
    }

    static func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    static func sgemmRate(_ n: Int) -> Double {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<5 {
            best = min(best, seconds {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
            })
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    static func training(module: SimilarityModule, dim d: Int, simDim s: Int, batch B: Int, gemm: Double) {
        var noise = Noise(state: 7)
        let R = 36, L = 12
        let x = inputs(images: B, captions: B, regions: R, length: L, dim: d, noise: &noise)
        var p = params(module, dim: d, simDim: s, noise: &noise)
        let kernel = SimilarityKernel(dim: d, simDim: s, module: module)
        if let w = workers { kernel.workers = w }
        let flops = Double(B * B) * pairFlops(module, regions: R, length: L, dim: d, simDim: s)
        _ = kernel.forward(x, params: &p, pairs: .all, training: false, keepTape: false)  // warm-up
        var fwd = Double.infinity, fwdTape = Double.infinity, bwd = Double.infinity, tapeBytes = 0
        for _ in 0..<2 {
            fwd = min(fwd, seconds { _ = kernel.forward(x, params: &p, pairs: .all, training: true, keepTape: false) })
            var result: (simVectors: [Float], tape: SimilarityTape?) = ([], nil)
            fwdTape = min(fwdTape, seconds { result = kernel.forward(x, params: &p, pairs: .all, training: true, keepTape: true) })
            guard let tape = result.tape else { return }
            tapeBytes = tape.retainedBytes
            let dOut = [Float](repeating: 1e-3, count: result.simVectors.count)
            bwd = min(bwd, seconds { _ = kernel.backward(tape, params: p, dSimVectors: dOut) })
        }
        // Backward runs two products per forward product: ≈ 2× the forward's flops.
        print(String(format: "%@ B=%d all pairs (%d), R=%d L=%d d=%d s=%d: forward %.3f s (%.0f GFLOP/s, %.0f%% of sgemm), "
                     + "forward+tape %.3f s, backward %.3f s (%.0f GFLOP/s), forward+backward %.3f s; tape %.0f MB",
                     "\(module)", B, B * B, R, L, d, s, fwd, flops / fwd / 1e9, 100 * flops / fwd / 1e9 / gemm,
                     fwdTape, bwd, 2 * flops / bwd / 1e9, fwdTape + bwd, Double(tapeBytes) / 1e6))
    }

    /// Evaluation scores every test pair in shards of images × captions. The full 1000 × 5000
    /// takes minutes on 2 cores, so by default one shard runs and the total is extrapolated;
    /// MSCN_BENCH_FULL=1 runs them all.
    static func evaluation(images: Int, captions: Int, dim d: Int, simDim s: Int, gemm: Double) {
        let full = ProcessInfo.processInfo.environment["MSCN_BENCH_FULL"] == "1"
        let shardImages = 100, shardCaptions = 500, R = 36, L = 12
        var noise = Noise(state: 8)
        let module = SimilarityModule.sgr(steps: 3)
        var p = params(module, dim: d, simDim: s, noise: &noise)
        let kernel = SimilarityKernel(dim: d, simDim: s, module: module)
        let x = inputs(images: shardImages, captions: shardCaptions, regions: R, length: L, dim: d, noise: &noise)
        let shards = (images / shardImages) * (captions / shardCaptions)
        let run = full ? shards : 1
        var total = 0.0
        for _ in 0..<run {
            total += seconds { _ = kernel.forward(x, params: &p, pairs: .all, training: false, keepTape: false) }
        }
        let perShard = total / Double(run)
        let flops = Double(shardImages * shardCaptions) * pairFlops(module, regions: R, length: L, dim: d, simDim: s)
        print(String(format: "SGR inference %d×%d pairs at d=%d s=%d in %d shards of %d×%d: %.2f s per shard, %@ %.0f s (%.0f GFLOP/s, %.0f%% of sgemm)",
                     images, captions, d, s, shards, shardImages, shardCaptions, perShard,
                     full ? "total" : "extrapolated total", perShard * Double(shards), flops / perShard / 1e9,
                     100 * flops / perShard / 1e9 / gemm))
    }
}
