import Foundation
import MSCN
import MSCNRandom

/// The meta step's cost with the exact second-order term against the central difference
/// (issue 11: target exact ≤ 1.5× the finite-difference step), and the term's share of the
/// meta-gradient at the reference's training setting (d = 256, batch 64, pseudo lr 2e-4) over
/// consecutive training steps. `MSCN_BENCH_QUICK=1` times 1 repetition and 3 steps.
enum MetaStepBench {
    static var all: [Benchmark] { [Benchmark(name: "meta-step", run: run)] }

    static func run() {
        let quick = ProcessInfo.processInfo.environment["MSCN_BENCH_QUICK"] != nil
        var c = ModelConfig(imageDim: 256, embedDim: 256, wordDim: 300, simDim: 64, vocabSize: 10_000, variant: .sgr)
        c.dropout = 0.4
        let length = 12
        let b = EngineBench.batch(c, 64, length: length, seed: 2)
        let z = MetaBatch(pairs: EngineBench.batch(c, 64, length: length, seed: 3), labels: (0..<64).map { $0 < 32 ? 1 : 0 })
        print("d=256 s=64 D_img=256, batch 64, captions of \(length) words, similarity \(type(of: SimilarityBackends.standard(c)))")
        // Alternating runs on fresh copies of one model, so a load change on the shared machine
        // hits both methods alike; the ratio is of the medians.
        var times: [MetaGradientMethod: [Double]] = [:]
        for _ in 0..<(quick ? 1 : 3) {
            for method in MetaGradientMethod.allCases {
                let m = Model(config: c, seed: 1)
                m.metaGradientMethod = method
                times[method, default: []].append(EngineBench.seconds { _ = m.metaGradient(b, meta: z, pseudoLR: 2e-4) })
            }
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        let tE = median(times[.exact] ?? [.nan]), tF = median(times[.finiteDifference] ?? [.nan])
        print(String(format: "meta-gradient: exact %.2f s, finite-difference %.2f s, ratio %.2f (median of %d)",
                     tE, tF, tE / tF, times[.exact]?.count ?? 0))

        // Share of the second-order term, ‖full − direct‖ / ‖full‖, over consecutive steps.
        let m = Model(config: c, seed: 1)
        let steps = quick ? 3 : 20
        var shares: [Double] = []
        for k in 0..<steps {
            let bk = EngineBench.batch(c, 64, length: length, seed: UInt64(100 + k))
            let zk = MetaBatch(pairs: EngineBench.batch(c, 64, length: length, seed: UInt64(200 + k)), labels: (0..<64).map { $0 < 32 ? 1 : 0 })
            var r = StepReport()
            m.trainStep(bk, meta: zk, lr: 2e-4, metaLR: 1.7e-5, pseudoLR: 2e-4, report: &r)
            var d2 = 0.0, f2 = 0.0
            for (n, f) in r.metaGradFull {
                let d = r.metaGradDirect[n] ?? []
                for i in f.indices { let x = Double(f[i]) - Double(d[i]); d2 += x * x; f2 += Double(f[i]) * Double(f[i]) }
            }
            shares.append((d2 / max(f2, .leastNormalMagnitude)).squareRoot())
        }
        print("second-order share ‖full − direct‖/‖full‖ per step: " + shares.map { String(format: "%.2e", $0) }.joined(separator: " "))
        print(String(format: "second-order share: min %.2e, median %.2e, max %.2e over %d steps",
                     shares.min() ?? .nan, median(shares), shares.max() ?? .nan, steps))
    }
}
