import Artefacts
import Foundation
import Purification
import Reporting
import Retrieval
import TensorFile
import TestSupport

/// A small deterministic generator for fixture data (tests need no statistical quality).
struct FixtureRandom {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
}

/// The input files of a finished tiny run (3 rounds, 200 training captions, 6 test images),
/// written into a temporary folder the way the pipeline's stages would.
struct FakeRun {
    let dir: URL
    let rounds = 3
    let trainCaptions = 200
    var dev: [RetrievalMetrics] = []
    var test: RetrievalMetrics
    var purify: [String: [PurificationReport]] = [:]
    var scores: [String: [[Float]]] = [:]
    var clean: [UInt8] = []
    /// `train_keep` over the split's 210 captions.
    var trainKeep: [UInt8] = []
    var inputs = RunReportInputs()
    /// Test split: images, captions per image, score matrix `[N, M]`.
    let testImages = 6, perImage = 5
    var testScores: [Float] = []

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    init() throws {
        dir = TestPaths.temporaryDirectory("reporting")
        let dir = self.dir
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var rng = FixtureRandom(state: 42)
        func metrics(_ base: Double) -> RetrievalMetrics {
            RetrievalMetrics(i2tR1: base, i2tR5: base + 20, i2tR10: base + 30, i2tMedianRank: 3, i2tMeanRank: 7.5,
                             t2iR1: base - 5, t2iR5: base + 15, t2iR10: base + 25, t2iMedianRank: 4, t2iMeanRank: 9.25)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        for r in 1...rounds {
            let m = metrics([31.5, 44.25, 40.0][r - 1])
            dev.append(m)
            try enc.encode(m).write(to: URL(fileURLWithPath: path("dev\(r).json")))
            inputs.devMetrics.append(path("dev\(r).json"))
        }
        test = metrics(42.5)
        try enc.encode(test).write(to: URL(fileURLWithPath: path("test.json")))
        inputs.testMetrics = path("test.json")
        let best: [String: Any] = ["best_round": 2, "best_rsum": dev[1].rsum, "rsum_per_round": dev.map(\.rsum)]
        try JSONSerialization.data(withJSONObject: best).write(to: URL(fileURLWithPath: path("best.json")))
        inputs.best = path("best.json")
        let params: [String: Any] = ["pipeline": "Pipelines/mscn.yaml", "params": ["noise": "0.5", "seed": "0", "epochs": "3"],
                                     "overrides": ["noise": "0.5"]]
        try JSONSerialization.data(withJSONObject: params).write(to: URL(fileURLWithPath: path("params.json")))
        inputs.params = path("params.json")

        // Noise: every third training caption noisy. The split has 210 captions; the meta set took
        // 10 of them (train_keep 0), which purification does not score (mask entries 0).
        clean = (0..<trainCaptions).map { $0 % 3 == 0 ? 0 : 1 }
        var fullClean: [UInt8] = [], trainKeep: [UInt8] = []
        var k = 0
        for i in 0..<(trainCaptions + 10) {
            if i % 21 == 5 { fullClean.append(1); trainKeep.append(0) } else { fullClean.append(clean[k]); trainKeep.append(1); k += 1 }
        }
        self.trainKeep = trainKeep
        try TensorFiles.write(path("noise.tzst"), [
            StoredTensor(name: "t2i", shape: [fullClean.count], int64s: (0..<fullClean.count).map { Int64($0 / 5) }),
            StoredTensor(name: "clean", shape: [fullClean.count], uint8s: fullClean),
        ])
        try TensorFiles.write(path("meta.tzst"), [StoredTensor(name: "train_keep", shape: [trainKeep.count], uint8s: trainKeep)])
        inputs.noise = path("noise.tzst")
        inputs.meta = path("meta.tzst")

        // Per round and net: scores that separate more each round, a real Beta-mixture fit, mask and report.
        for net in ["A", "B"] {
            for r in 1...rounds {
                let gap = 0.1 * Double(r) + (net == "B" ? 0.05 : 0)
                var s: [Float] = []
                for c in clean {
                    let u = (rng.next() + rng.next() + rng.next()) / 3
                    s.append(Float(min(0.99, max(0.01, (c == 1 ? 0.45 + gap : 0.45 - gap) + (u - 0.5) * 0.4))))
                }
                let metaClean = (0..<20).map { _ in Float(0.6 + 0.3 * rng.next()) }
                let metaNoisy = (0..<20).map { _ in Float(0.1 + 0.3 * rng.next()) }
                let fit = try Purifier.fit(trainScores: s, metaClean: metaClean, metaNoisy: metaNoisy)
                let report = try PurificationReport(fit: fit, cleanLabels: clean)
                purify[net, default: []].append(report)
                scores[net, default: []].append(s)
                var obj = try JSONSerialization.jsonObject(with: try enc.encode(report)) as? [String: Any] ?? [:]
                obj["round"] = r
                obj["net"] = net
                let rp = path("report-\(net)\(r).json"), mp = path("mask-\(net)\(r).tzst")
                try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]).write(to: URL(fileURLWithPath: rp))
                // Full-length mask as mscn-purify writes it: zeros where the meta set took the caption.
                var pc = [Float](repeating: 0, count: trainKeep.count), kp = [UInt8](repeating: 0, count: trainKeep.count)
                var sc = [Float](repeating: 0, count: trainKeep.count)
                for (j, i) in trainKeep.indices.filter({ trainKeep[$0] != 0 }).enumerated() {
                    pc[i] = Float(fit.cleanPosterior[j]); kp[i] = fit.keep[j] ? 1 : 0; sc[i] = s[j]
                }
                try TensorFiles.write(mp, [
                    StoredTensor(name: "p_clean", shape: [pc.count], floats: pc),
                    StoredTensor(name: "keep", shape: [kp.count], uint8s: kp),
                    StoredTensor(name: "score", shape: [sc.count], floats: sc),
                ])
                if net == "A" { inputs.purifyA.append(rp); inputs.masksA.append(mp) } else { inputs.purifyB.append(rp); inputs.masksB.append(mp) }
            }
            // Logs: warm-up without meta loss, then one log per round.
            for stage in 0...rounds {
                var text = "step\tepoch\tloss\tmeta_loss\tlr\n"
                for step in 1...12 {
                    let loss = 50.0 / Double(stage * 12 + step) + (net == "B" ? 1 : 0)
                    text += "\(step)\t\(stage)\t\(loss)\t\(stage == 0 ? "" : String(0.7 - 0.01 * Double(step)))\t0.0005\n"
                }
                let lp = path("log-\(net)\(stage).tsv")
                try text.write(toFile: lp, atomically: true, encoding: .utf8)
                if net == "A" { inputs.trainLogsA.append(lp) } else { inputs.trainLogsB.append(lp) }
            }
        }

        // Examples: 6 coloured 16×12 images, 5 captions each, words from a tiny vocabulary.
        let words = ["<pad>", "<start>", "<end>", "<unk>", "a", "red", "green", "blue", "square", "circle", "on", "grass"]
        var i2w: [String: String] = [:], w2i: [String: Int] = [:]
        for (i, w) in words.enumerated() { i2w[String(i)] = w; w2i[w] = i }
        try JSONSerialization.data(withJSONObject: ["idx2word": i2w, "word2idx": w2i, "idx": words.count] as [String: Any])
            .write(to: URL(fileURLWithPath: path("vocab.json")))
        var tokens: [Int32] = [], offsets: [Int64] = [0]
        for c in 0..<(testImages * perImage) {
            tokens += [1, 4, Int32(5 + (c / perImage) % 3), Int32(8 + c % 2), 10, 11, 2]
            offsets.append(Int64(tokens.count))
        }
        let set = CaptionSet(tokens: tokens, offsets: offsets, captionsPerImage: perImage)
        try Corpus(splits: ["test": set], vocabularySize: words.count).save(path("corpus.tzst"))
        var pixels: [UInt8] = []
        for n in 0..<testImages {
            for y in 0..<12 { for x in 0..<16 { pixels += [UInt8(40 * n), UInt8(x * 15), UInt8(y * 20)] } }
        }
        try TensorFiles.write(path("images-test.tzst"), [StoredTensor(name: "pixels", shape: [testImages, 12, 16, 3], uint8s: pixels)])
        let m = testImages * perImage
        testScores = (0..<(testImages * m)).map { idx in
            let (img, cap) = (idx / m, idx % m)
            // The right image scores highest, except for every fourth caption.
            return Float(img == cap / perImage ? (cap % 4 == 0 ? 0.3 : 0.9) : 0.1 + 0.05 * Double((img * 7 + cap) % 9))
        }
        try TensorFiles.write(path("scores.tzst"), [StoredTensor(name: "scores", shape: [testImages, m], floats: testScores)])
        inputs.examplesScores = path("scores.tzst")
        inputs.examplesCorpus = path("corpus.tzst")
        inputs.examplesImages = path("images-test.tzst")
        inputs.vocab = path("vocab.json")
    }
}
