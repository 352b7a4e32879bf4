import Engine
import Foundation
import MSCN
import MSCNRandom
import TensorFile

/// Training throughput at the built-in dataset's sizes (d=64 s=32 w=32, 128-dim features,
/// 36 regions, batch 32, caption lengths spread like the built-in captions'), in steps per
/// second of one net. The pipeline trains the two nets in separate processes at once, so
/// `MSCN_BENCH_PROCS=2` runs two copies of the timed loop in child processes side by side and
/// reports each one's rate. `MSCN_BENCH_STEPS` sets the timed steps per phase (default 40).
enum BuiltinBench {
    static var all: [Benchmark] { [Benchmark(name: "builtin", run: run)] }

    static var config: ModelConfig {
        var c = ModelConfig(imageDim: 128, embedDim: 64, wordDim: 32, simDim: 32, vocabSize: 120, variant: .sgr)
        c.dropout = 0.4
        return c
    }

    /// Caption lengths (tokens incl. <start>/<end>) of the built-in captions: 9…27, mostly 13…22.
    static func lengths(_ n: Int, _ g: inout SeededGenerator) -> [Int] {
        (0..<n).map { _ in 9 + g.below(10) + g.below(10) }
    }

    static func batch(_ c: ModelConfig, _ n: Int, seed: UInt64) -> PairBatch {
        var g = SeededGenerator(seed: seed, stream: "bench-builtin")
        let feats = (0..<(n * c.regions * c.imageDim)).map { _ in g.unitFloat() }
        let caps: [[Int32]] = lengths(n, &g).map { l in [1] + (0..<(l - 2)).map { _ in Int32(4 + g.below(c.vocabSize - 4)) } + [2] }
        return PairBatch(images: ImageBatch(features: feats, count: n, regions: c.regions, dim: c.imageDim),
                         captions: CaptionBatch(tokens: caps))
    }

    static func run() {
        let env = ProcessInfo.processInfo.environment
        let procs = env["MSCN_BENCH_PROCS"].flatMap { Int($0) } ?? 1
        if procs > 1 && env["MSCN_BENCH_CHILD"] == nil {
            runChildren(procs)
            return
        }
        let steps = env["MSCN_BENCH_STEPS"].flatMap { Int($0) } ?? 40
        let c = config
        let model = Model(config: c, seed: 1)
        let batches = (0..<8).map { batch(c, 32, seed: UInt64(10 + $0)) }
        let metas = (0..<8).map { MetaBatch(pairs: batch(c, 32, seed: UInt64(30 + $0)), labels: (0..<32).map { $0 % 2 == 0 ? 1 : 0 }) }
        model.warmupStep(batches[0], lr: 2e-4)  // untimed: first allocations
        let tw = EngineBench.seconds { for i in 0..<steps { model.warmupStep(batches[i % 8], lr: 2e-4) } }
        _ = model.trainStep(batches[0], meta: metas[0], lr: 2e-4, metaLR: 1.7e-5)
        let ts = EngineBench.seconds { for i in 0..<steps { _ = model.trainStep(batches[i % 8], meta: metas[i % 8], lr: 2e-4, metaLR: 1.7e-5) } }
        model.standardStep(batches[0], lr: 2e-4)
        let th = EngineBench.seconds { for i in 0..<steps { model.standardStep(batches[i % 8], lr: 2e-4) } }
        let tag = env["MSCN_BENCH_CHILD"].map { "process \($0): " } ?? ""
        // Speed-only settings in effect, since they move these rates (not the results).
        let timeout = env["OPENBLAS_THREAD_TIMEOUT"].map { "OPENBLAS_THREAD_TIMEOUT=\($0)" } ?? "OpenBLAS's default idle-thread timeout"
        let replay = BLAS.serialReplay.active ? "two-thread products replayed on one (MSCN_SERIAL_BLAS=1)" : "no serial replay"
        print(String(format: "%@built-in sizes, batch 32: warm-up %.1f steps/s (%.1f ms), round step (meta + main) %.1f steps/s (%.1f ms), "
                     + "standard step (hardest negatives) %.1f steps/s (%.1f ms), OpenBLAS threads %d, %@, %@",
                     tag, Double(steps) / tw, 1000 * tw / Double(steps), Double(steps) / ts, 1000 * ts / Double(steps),
                     Double(steps) / th, 1000 * th / Double(steps), BLAS.threads, timeout, replay))
    }

    /// Runs this benchmark in `n` child processes at once (as the pipeline runs the two nets).
    static func runChildren(_ n: Int) {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        let children: [Process] = (0..<n).compactMap { i in
            let p = Process()
            p.executableURL = exe
            p.arguments = ["builtin"]
            var env = ProcessInfo.processInfo.environment
            env["MSCN_BENCH_CHILD"] = "\(i)"
            p.environment = env
            do { try p.run() } catch {
                print("builtin bench: cannot start a child process (\(exe.path)): \(IOErrorText.reason(error))")
                return nil
            }
            return p
        }
        for p in children { p.waitUntilExit() }
    }
}
