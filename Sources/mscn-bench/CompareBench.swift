import CBLAS
import Engine
import Foundation
import MSCN
import MSCNRandom
import Purification
import StageKit
import TensorFile

/// `make bench-compare`: our phases against the official PyTorch code on identical inputs.
///
/// For each configuration the bench writes one synthetic precomp-like input set (region features,
/// caption token ids and lengths, the batch plans) to a temporary folder; both sides read it. The
/// official side runs in a long-lived Python process (`Reference/bench_official.py`) that executes
/// one phase per command, so the sides alternate step by step: ours, theirs, ours, theirs…
/// The first run of each phase on each side is untimed. Without `MSCN_REF_PY` only our side runs.
/// Our side runs each phase as the pipelines run its stage: `make bench-compare` sets the stages'
/// BLAS settings (Haswell kernels, `MSCN_SERIAL_BLAS=1`, `OPENBLAS_THREAD_TIMEOUT=12`), and the
/// replay is on for the warm-up and training phases only, as in `Pipelines/mscn.yaml`. The sgemm
/// rate that "% of sgemm" divides by is OpenBLAS's own on its threads, replay or not, read just
/// before and just after each phase (the better of the two). "step by step" is the range of the
/// ratios of the same step on both sides, which a slow spell of a shared machine moves less than
/// it moves the medians.
///
/// Environment: `MSCN_REF_PY` (the Python with torch), `MSCN_REF` (the official code's folder,
/// read by refenv.py), `MSCN_COMPARE` (comma-separated configurations, default all three),
/// `MSCN_COMPARE_STEPS` (timed steps of the small configurations, default 5), `MSCN_COMPARE_PHASES`
/// (comma-separated of warmup, train, purify, eval; default all).
enum CompareBench {
    static var all: [Benchmark] { [Benchmark(name: "compare", run: run)] }

    struct Setup {
        var name: String
        var config: ModelConfig
        var batch: Int
        var warmupBatch: Int
        var steps: Int
        var purifyCaptions: Int
        var evalImages: Int
        /// Caption length (tokens with <start>/<end>) of a draw.
        var length: (inout SeededGenerator) -> Int
        var note: String
    }

    static func setups(steps: Int) -> [Setup] {
        func cfg(_ D: Int, _ d: Int, _ w: Int, _ s: Int, _ v: Int) -> ModelConfig {
            ModelConfig(imageDim: D, embedDim: d, wordDim: w, simDim: s, vocabSize: v, variant: .sgr)
        }
        // Built-in captions: 9…27 tokens, mostly 13…22; Flickr30K-like: 8…30, mean ≈ 14.
        let builtin: (inout SeededGenerator) -> Int = { 9 + $0.below(10) + $0.below(10) }
        let flickr: (inout SeededGenerator) -> Int = { 8 + $0.below(7) + $0.below(7) + ($0.below(8) == 0 ? $0.below(10) : 0) }
        return [
            Setup(name: "builtin", config: cfg(128, 64, 32, 32, 120), batch: 32, warmupBatch: 32, steps: steps,
                  purifyCaptions: 2000, evalImages: 200, length: builtin, note: "built-in sizes D=128 d=64 s=32 w=32"),
            Setup(name: "d256", config: cfg(256, 256, 300, 64, 5000), batch: 64, warmupBatch: 128, steps: steps,
                  purifyCaptions: 2000, evalImages: 100, length: flickr, note: "D=256 d=256 s=64 w=300"),
            Setup(name: "paper", config: cfg(2048, 1024, 300, 256, 5000), batch: 64, warmupBatch: 128, steps: 2,
                  purifyCaptions: 256, evalImages: 20, length: flickr,
                  note: "paper sizes D=2048 d=1024 s=256 w=300 (2 timed steps, smaller purify/eval to fit the time)"),
        ]
    }

    /// One configuration's inputs: captions are `perImage` consecutive per image, as in precomp.
    struct Inputs {
        var features: [Float]
        var images: Int
        var tokens: [[Int32]]
        var warmup: [[Int]]
        var train: [[Int]]
        var meta: [(captions: [Int], images: [Int], labels: [Float])]
        var purifyMeta: [(captions: [Int], images: [Int], labels: [Float])]
        static let perImage = 5
    }

    static func makeInputs(_ s: Setup) -> Inputs {
        let c = s.config
        let steps = s.steps + 1
        let needCaptions = max(s.purifyCaptions, s.evalImages * Inputs.perImage, 4 * s.warmupBatch)
        let images = (needCaptions + Inputs.perImage - 1) / Inputs.perImage
        let captions = images * Inputs.perImage
        var g = SeededGenerator(seed: 5, stream: "bench-compare-\(s.name)")
        // ReLU-like region features: about half zeros.
        var feats = [Float](repeating: 0, count: images * c.regions * c.imageDim)
        for i in feats.indices { let u = g.unitFloat(); feats[i] = u < 0.5 ? 0 : 2 * (u - 0.5) }
        let tokens: [[Int32]] = (0..<captions).map { _ in
            let l = s.length(&g)
            return [1] + (0..<(l - 2)).map { _ in Int32(4 + g.below(c.vocabSize - 4)) } + [2]
        }
        func draw(_ n: Int) -> [Int] { g.sample(n, from: captions) }
        func metaBatch(_ n: Int) -> (captions: [Int], images: [Int], labels: [Float]) {
            let caps = draw(n)
            var imgs: [Int] = [], labels: [Float] = []
            for (k, cap) in caps.enumerated() {
                if k % 2 == 0 { imgs.append(cap / Inputs.perImage); labels.append(1) } else {
                    var im = g.below(images)
                    while im == cap / Inputs.perImage { im = g.below(images) }
                    imgs.append(im); labels.append(0)
                }
            }
            return (caps, imgs, labels)
        }
        let warm = (0..<steps).map { _ in draw(s.warmupBatch) }
        let train = (0..<steps).map { _ in draw(s.batch) }
        let meta = (0..<steps).map { _ in metaBatch(s.batch) }
        let metaPairs = max(2 * s.batch, s.purifyCaptions / 10)
        let purifyMeta = stride(from: 0, to: metaPairs, by: s.batch).map { metaBatch(min(s.batch, metaPairs - $0)) }
        return Inputs(features: feats, images: images, tokens: tokens, warmup: warm, train: train, meta: meta, purifyMeta: purifyMeta)
    }

    static func write(_ s: Setup, _ x: Inputs, to dir: String) throws {
        let c = s.config
        try NPY.write(StoredTensor(name: "features", shape: [x.images, c.regions, c.imageDim], floats: x.features),
                      to: dir + "/features.npy")
        let lmax = x.tokens.map(\.count).max() ?? 1
        var padded = [Int32](repeating: 0, count: x.tokens.count * lmax)
        for (i, t) in x.tokens.enumerated() { for (j, v) in t.enumerated() { padded[i * lmax + j] = v } }
        try NPY.write(StoredTensor(name: "tokens", shape: [x.tokens.count, lmax], int32s: padded), to: dir + "/tokens.npy")
        try NPY.write(StoredTensor(name: "lengths", shape: [x.tokens.count], int32s: x.tokens.map { Int32($0.count) }),
                      to: dir + "/lengths.npy")
        func meta(_ m: (captions: [Int], images: [Int], labels: [Float])) -> [String: Any] {
            ["captions": m.captions, "images": m.images, "labels": m.labels.map(Double.init)]
        }
        let plan: [String: Any] = [
            "embed": c.embedDim, "sim": c.simDim, "word": c.wordDim, "img_dim": c.imageDim, "vocab": c.vocabSize,
            "batch": s.batch, "threads": 2, "captions_per_image": Inputs.perImage,
            "warmup_batches": x.warmup, "train_batches": x.train, "meta_batches": x.meta.map(meta),
            "purify": ["captions": s.purifyCaptions, "chunk": purifyChunk, "meta_batches": x.purifyMeta.map(meta)] as [String: Any],
            "eval": ["images": s.evalImages, "chunk": 128, "shard": 100],
        ]
        let data = try JSONSerialization.data(withJSONObject: plan, options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: dir + "/plan.json"))
    }

    static let purifyChunk = 256
    /// Whether the pipelines' stage for `phase` sets `MSCN_SERIAL_BLAS=1` at `setup`'s sizes: the
    /// warm-up and the rounds' training always, the purification at the built-in sizes only
    /// (`Pipelines/mscn.yaml` sets it for layout=images), the evaluation never.
    static func pipelinesReplay(_ phase: String, _ setup: Setup) -> Bool {
        switch phase {
        case "warmup", "train": return true
        case "purify": return setup.name == "builtin"
        default: return false
        }
    }

    /// The official side: one Python process answering one command per line.
    final class Official {
        let process = Process()
        let input = Pipe(), output = Pipe()
        var buffer = Data()
        let log: String
        var exited = false

        init(python: String, dir: String, log: String) throws {
            self.log = log
            // The reference drivers live together in Tests/Reference (one copy of refenv.py).
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Tests/Reference/bench_official.py").path
            guard FileManager.default.fileExists(atPath: script) else {
                throw BenchError("the official-code driver is missing: \(script)")
            }
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, dir]
            // Our speed settings are ours: the official side runs as its users run it.
            var env = ProcessInfo.processInfo.environment
            for name in ["OPENBLAS_CORETYPE", "MSCN_SERIAL_BLAS", "OPENBLAS_THREAD_TIMEOUT", "MALLOC_ARENA_MAX"] { env[name] = nil }
            process.environment = env
            process.standardInput = input
            process.standardOutput = output
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: log)
            do { try process.run() } catch { throw BenchError("REF_PY \(python) does not start: \(IOErrorText.reason(error))") }
        }

        /// Seconds the official code took for `command`, or an error with its message.
        func run(_ command: String) throws -> Double {
            if exited { throw BenchError("official code not running (it exited earlier)") }
            do {
                try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
            } catch {
                exited = true
                throw BenchError("official code exited before \(command)\(logTail())")
            }
            while true {
                if let nl = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    let parts = line.split(separator: " ", maxSplits: 1)
                    if parts.first == "ok", parts.count == 2, let t = Double(parts[1]) { return t }
                    throw BenchError("official code, \(command): \(line)")
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty {
                    exited = true
                    throw BenchError("official code exited during \(command)\(logTail())")
                }
                buffer.append(chunk)
            }
        }

        func stop() {
            try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }

        /// The last lines of the official process's log, to go with an error.
        func logTail(lines: Int = 6) -> String {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n").suffix(lines).joined(separator: "\n  ")
            return "; its log \(log)" + (tail.isEmpty ? " is empty" : " ends:\n  " + tail)
        }

        /// Why `python` cannot run the official side, checked before any input is written: the
        /// interpreter, the packages the driver imports, the official code's files. nil: it can.
        static func problem(python: String, reference: String) -> String? {
            guard FileManager.default.isExecutableFile(atPath: python) else {
                return "REF_PY \(python) is not an executable file"
            }
            let missing = ["main_MSCN.py", "models.py", "evaluation_meta.py", "opt.py", "data.py"]
                .filter { !FileManager.default.fileExists(atPath: reference + "/" + $0) }
            if !missing.isEmpty {
                return "the official code's folder \(reference) (MSCN_REF) lacks \(missing.joined(separator: ", ")); "
                    + "export github.com/hhc1997/MSCN there"
            }
            let check = Process()
            check.executableURL = URL(fileURLWithPath: python)
            check.arguments = ["-c", "import torch, numpy, scipy"]
            let err = Pipe()
            check.standardError = err
            check.standardOutput = FileHandle.nullDevice
            do { try check.run() } catch { return "REF_PY \(python) does not start: \(IOErrorText.reason(error))" }
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            check.waitUntilExit()
            guard check.terminationStatus == 0 else {
                let last = message.split(separator: "\n").last.map(String.init) ?? "exit status \(check.terminationStatus)"
                return "REF_PY \(python) cannot import torch, numpy and scipy (\(last)); the official side needs a "
                    + "Python with them (python3 -m venv DIR && DIR/bin/pip install torch numpy scipy)"
            }
            return nil
        }
    }

    struct BenchError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Our side of each phase, on the same inputs.
    final class Ours {
        let model: Model
        let s: Setup
        let x: Inputs
        init(_ s: Setup, _ x: Inputs) {
            self.s = s
            self.x = x
            model = Model(config: s.config, seed: 1)
        }

        func pairs(_ caps: [Int], _ imgs: [Int]? = nil) -> PairBatch {
            let c = s.config, per = c.regions * c.imageDim
            let images = imgs ?? caps.map { $0 / Inputs.perImage }
            var f = [Float]()
            f.reserveCapacity(images.count * per)
            for i in images { f += x.features[(i * per)..<((i + 1) * per)] }
            return PairBatch(images: ImageBatch(features: f, count: images.count, regions: c.regions, dim: c.imageDim),
                             captions: CaptionBatch(tokens: caps.map { x.tokens[$0] }))
        }

        func warmup(_ k: Int) { model.warmupStep(pairs(x.warmup[k]), lr: 2e-4) }

        func train(_ k: Int) {
            let m = x.meta[k]
            _ = model.trainStep(pairs(x.train[k]), meta: MetaBatch(pairs: pairs(m.captions, m.images), labels: m.labels),
                                lr: 2e-4, metaLR: 1.7e-5)
        }

        func diagonal(_ b: PairBatch) -> [Float] {
            model.diagonalScores(images: model.encodeImages(b.images), captions: model.encodeCaptions(b.captions),
                                 lengths: b.captions.lengths)
        }

        func purify() throws {
            var clean: [Float] = [], noisy: [Float] = []
            for m in x.purifyMeta {
                for (score, label) in zip(diagonal(pairs(m.captions, m.images)), m.labels) {
                    if label > 0.5 { clean.append(score) } else { noisy.append(score) }
                }
            }
            var scores: [Float] = []
            for start in stride(from: 0, to: s.purifyCaptions, by: purifyChunk) {
                scores += diagonal(pairs(Array(start..<min(start + purifyChunk, s.purifyCaptions))))
            }
            _ = try Purifier.fit(trainScores: scores, metaClean: clean, metaNoisy: noisy)
        }

        func evaluate() {
            let c = s.config, per = c.regions * c.imageDim
            let n = s.evalImages, captions = n * Inputs.perImage
            var regions: [Float] = []
            for start in stride(from: 0, to: n, by: 128) {
                let r = start..<min(start + 128, n)
                let b = ImageBatch(features: Array(x.features[(r.lowerBound * per)..<(r.upperBound * per)]),
                                   count: r.count, regions: c.regions, dim: c.imageDim)
                regions += model.encodeImages(b).data
            }
            let shardImages = 100, shardCaptions = 500
            for c0 in stride(from: 0, to: captions, by: shardCaptions) {
                let cb = CaptionBatch(tokens: (c0..<min(c0 + shardCaptions, captions)).map { x.tokens[$0] })
                let words = model.encodeCaptions(cb)
                for i0 in stride(from: 0, to: n, by: shardImages) {
                    let ir = i0..<min(i0 + shardImages, n)
                    let rs = s.config.regions * s.config.embedDim
                    let imgs = Tensor(shape: [ir.count, s.config.regions, s.config.embedDim],
                                      data: Array(regions[(ir.lowerBound * rs)..<(ir.upperBound * rs)]))
                    _ = model.scores(images: imgs, captions: words, lengths: cb.lengths)
                }
            }
        }
    }

    /// The smallest and largest of the ratios official/ours of the same timed step. The sides
    /// alternate step by step, so each ratio compares two runs a few seconds apart: a slow spell
    /// of a shared machine moves the medians but mostly cancels in these. nil without both sides.
    static func pairedRatioRange(official: [Double], ours: [Double]) -> ClosedRange<Double>? {
        let ratios = zip(official, ours).compactMap { $1 > 0 ? $0 / $1 : nil }
        guard let lo = ratios.min(), let hi = ratios.max() else { return nil }
        return lo...hi
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func run() throws {
        let env = ProcessInfo.processInfo.environment
        let steps = max(1, env["MSCN_COMPARE_STEPS"].flatMap { Int($0) } ?? 5)
        func names(_ variable: String) -> Set<String>? { env[variable].map { Set($0.split(separator: ",").map(String.init)) } }
        let wanted = names("MSCN_COMPARE"), phases = names("MSCN_COMPARE_PHASES")
        let python = env["MSCN_REF_PY"].flatMap { $0.isEmpty ? nil : $0 }
        let reference = env["MSCN_REF"] ?? (NSHomeDirectory() + "/mscn_ref")
        if let python, let problem = Official.problem(python: python, reference: reference) { throw BenchError(problem) }
        print("official code: \(python.map { "\($0), MSCN_REF=\(reference)" } ?? "not run (set REF_PY)")")
        print("ours: OpenBLAS \(String(cString: openblas_get_corename())) kernels, \(BLAS.serialReplay.status), "
              + (env["OPENBLAS_THREAD_TIMEOUT"].map { "OPENBLAS_THREAD_TIMEOUT=\($0)" } ?? "OpenBLAS's default idle-thread timeout")
              + ", malloc arenas now \(MallocArenas.count.map(String.init) ?? "unknown")")
        print("load: \(((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines))")
        var rows: [String] = [], failures: [String] = []
        for s in setups(steps: steps) where wanted?.contains(s.name) ?? true {
            do {
                let result = try compare(s, python: python, phases: phases)
                rows += result.rows
                failures += result.officialErrors.map { "\(s.name): \($0)" }
            } catch {
                print("\(s.name): \(error)")
                failures.append("\(s.name): \(error)")
            }
        }
        print("\n| config | phase | ours (median s) | official (median s) | official/ours | step by step (min–max) | ours GFLOP/s | % of sgemm | ours peak RSS (GB) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows { print(r) }
        // What was measured is printed above; a side that failed still makes the run fail.
        if !failures.isEmpty { throw BenchError("compare: \(failures.count) failure(s):\n" + failures.joined(separator: "\n")) }
    }

    /// `phases`: the phase commands to run (warmup, train, purify, eval), nil for all.
    static func compare(_ s: Setup, python: String?, phases wantedPhases: Set<String>?) throws -> (rows: [String], officialErrors: [String]) {
        let dir = NSTemporaryDirectory() + "mscn-bench-compare-\(getpid())-\(s.name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let x = makeInputs(s)
        try write(s, x, to: dir)
        let c = s.config
        let meanLength = Double(x.tokens.reduce(0) { $0 + $1.count }) / Double(x.tokens.count)
        print("\n\(s.name): \(s.note); batch \(s.batch), warm-up batch \(s.warmupBatch), mean caption length "
              + String(format: "%.1f", meanLength) + "; \(s.steps) timed steps after 1 untimed; purification over "
              + "\(s.purifyCaptions) captions (+\(x.purifyMeta.reduce(0) { $0 + $1.captions.count }) meta pairs); "
              + "evaluation \(s.evalImages)×\(s.evalImages * Inputs.perImage)")
        // Before the official process starts: its start-up (importing torch, building the nets)
        // runs beside this and halved the measured rate.
        var before = EngineBench.sgemmGFLOPS()
        let official = try python.map { try Official(python: $0, dir: dir, log: dir + "-official.log") }
        defer { official?.stop() }
        let ours = Ours(s, x)
        let l = Int(meanLength.rounded())
        func fwd(_ b: Int) -> Double { EngineBench.pairFLOPs(c, bi: b, bc: b, length: l) + EngineBench.encoderFLOPs(c, b: b, length: l) }
        let diag = { (n: Int) in EngineBench.pairFLOPs(c, bi: 1, bc: n, length: l) + EngineBench.encoderFLOPs(c, b: n, length: l) }
        let b = s.batch
        let trainFLOPs = 3 * fwd(b) * 2 + 3 * diag(b) + 2 * fwd(b)
        let phases: [(String, Int, Double, (Int) throws -> Void, String)] = [
            ("warm-up step", s.steps, 3 * fwd(s.warmupBatch), { ours.warmup($0) }, "warmup"),
            ("training step (meta + main)", s.steps, trainFLOPs, { ours.train($0) }, "train"),
            ("purification pass", s.steps, diag(s.purifyCaptions + x.purifyMeta.reduce(0) { $0 + $1.captions.count }),
             { _ in try ours.purify() }, "purify"),
            ("all-pairs evaluation", s.steps,
             EngineBench.pairFLOPs(c, bi: s.evalImages, bc: 5 * s.evalImages, length: l) + EngineBench.encoderFLOPs(c, b: 5 * s.evalImages, length: l),
             { _ in ours.evaluate() }, "eval"),
        ]
        var rows: [String] = [], officialErrors: [String] = []
        for (name, n, flops, mine, command) in phases where wantedPhases?.contains(command) ?? true {
            // As the pipelines run these stages (where the replay is accepted at all).
            let replay = BLAS.useSerialReplay(pipelinesReplay(command, s))
            var tOurs: [Double] = [], tRef: [Double] = []
            var refError: String?
            EngineBench.resetPeak()
            for k in 0...n {
                var err: Error?
                let t = EngineBench.seconds { do { try mine(k) } catch { err = error } }
                if let err { throw err }
                if k > 0 { tOurs.append(t) }
                if let official, refError == nil {
                    do {
                        let r = try official.run("\(command) \(k)")
                        if k > 0 { tRef.append(r) }
                    } catch { refError = "\(error)" }
                }
            }
            let memory = EngineBench.peakGB()
            // The yardstick of this phase: the better of the rates read just before and just after it.
            let after = EngineBench.sgemmGFLOPS()
            let peak = max(before, after)
            before = after
            let mo = median(tOurs), mr = median(tRef)
            let rate = flops / mo / 1e9
            let ratio = tRef.isEmpty ? "–" : String(format: "%.2f×", mr / mo)
            let spread = pairedRatioRange(official: tRef, ours: tOurs).map { String(format: "%.2f–%.2f×", $0.lowerBound, $0.upperBound) } ?? "–"
            if let refError { officialErrors.append("\(name): \(refError)") }
            let refText = refError == nil ? (tRef.isEmpty ? "–" : String(format: "%.3f", mr)) : "failed"
            print(String(format: "%@ %@: ours %.3f s, official %@, official/ours %@ (step by step %@), ours %.1f GFLOP/s = %.0f%% of sgemm %.0f, ours peak RSS %.2f GB, %@",
                         s.name, name, mo, refError.map { "failed (\($0.prefix { $0 != "\n" }))" } ?? refText, ratio, spread, rate, 100 * rate / peak, peak, memory,
                         replay ? "OpenBLAS's two-thread split replayed on one thread" : "OpenBLAS's own threads"))
            rows.append(String(format: "| %@ | %@ | %.3f | %@ | %@ | %@ | %.1f | %.0f%% | %.2f |", s.name, name, mo, refText, ratio, spread, rate,
                               100 * rate / peak, memory))
        }
        return (rows, officialErrors)
    }
}
