import ArgumentParser
import Artefacts
import Foundation
import MSCN
import Purification
import StageKit
import TensorFile
import Training

/// `mscn-purify`: eval-mode scores of the meta pairs and of every training caption with its noisy
/// image, a two-Beta mixture initialised from the meta scores and fitted by EM (SPEC §7), and the
/// keep mask the other net trains on next.
struct PurifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-purify",
        abstract: "Purify the training captions with one net's scores and a beta mixture.",
        discussion: """
        Writes --out (tensor file: p_clean f32 [M], keep u8 [M], score f32 [M] — the clamped score of \
        every training caption with its noisy image; captions outside the training set get 0) and \
        --report (JSON: initial Betas, every EM iteration, final mixture, kept fraction and, since the \
        noise is synthetic, precision/recall/accuracy of the kept set against the clean labels). \
        The meta negatives are those of --round, drawn exactly as mscn-train draws them for that round.
        """
    )

    @Option(help: "Checkpoint of the net that scores.") var checkpoint: String
    @OptionGroup var inputs: TrainingInputOptions
    @Option(help: "Round whose meta negatives to use (from 1).") var round: Int = 1
    @Option(help: "Seed of the pipeline (the same as mscn-train's).") var seed: UInt64 = 0
    @Option(help: "Name of the scoring net (for the report).") var net: String = "A"
    @Option(help: "Output mask file.") var out: String
    @Option(help: "Output report (JSON).") var report: String
    @Option(name: .customLong("keep-threshold"), help: "Keep captions whose clean posterior exceeds this.") var keepThreshold: Double = 0.5
    @Flag(name: .customLong("exact-negative-check"), help: "Correct quirk 9 (must match mscn-train).") var exactNegativeCheck = false

    func validate() throws {
        guard round >= 1 else { throw ValidationError("--round starts at 1") }
        guard keepThreshold > 0, keepThreshold < 1 else { throw ValidationError("--keep-threshold must be in (0, 1)") }
        try StageOutputs.requireDistinct([("--out", out), ("--report", report)])
    }

    func run() throws {
        Stage.run("mscn-purify") {
            try StageOutputs.requireWritableFolders([out, report])
            let data = try TrainingData.load(features: inputs.features, corpus: inputs.corpus, noise: inputs.noise,
                                             meta: inputs.meta, devFeatures: inputs.devFeatures,
                                             metaFeatures: inputs.metaFeatures)
            guard !data.baseCaptions.isEmpty else {
                throw StageError("the meta split keeps none of the \(data.captions.captionCount) training captions for training: nothing to purify", path: inputs.meta)
            }
            let model = try Checkpoint.load(checkpoint).model
            try ModelChecks.compatible(model.config, with: data, path: checkpoint)
            let metaSet = try data.metaSet(seed: seed, round: round, referenceNegativeCheck: !exactNegativeCheck)
            let pairs = metaSet.pairs
            let progress = StageKit.Progress("purify \(net) scoring", total: pairs.count + data.baseCaptions.count)
            let metaScores = Scoring.diagonal(model, count: pairs.count, pair: { r in
                data.metaBatch(Array(pairs[r])).pairs
            }, progress: { done, _ in progress.update(done) })
            let base = data.baseCaptions
            let trainScores = Scoring.diagonal(model, count: base.count, pair: { r in
                let caps = Array(base[r])
                return data.pairBatch(IndexBatch(captionIndices: caps, imageIndices: caps.map(data.imageOf)))
            }, progress: { done, _ in progress.update(pairs.count + done) })

            var options = BetaMixtureOptions()
            options.keepThreshold = keepThreshold
            let fit = try Purifier.fit(trainScores: trainScores,
                                       metaClean: zip(pairs, metaScores).filter { $0.0.label == 1 }.map(\.1),
                                       metaNoisy: zip(pairs, metaScores).filter { $0.0.label == 0 }.map(\.1),
                                       options: options)
            let m = data.captions.captionCount
            var pClean = [Float](repeating: 0, count: m), keep = [UInt8](repeating: 0, count: m)
            var score = [Float](repeating: 0, count: m)
            for (k, j) in base.enumerated() {
                pClean[j] = Float(fit.cleanPosterior[k])
                keep[j] = fit.keep[k] ? 1 : 0
                score[j] = min(max(trainScores[k], Float(options.clamp)), Float(1 - options.clamp))
            }
            let summary = try PurificationReport(fit: fit, cleanLabels: base.map { data.noisy.clean[$0] })
            for problem in [fit.stopped, fit.collapsed].compactMap({ $0 }) {
                Stage.note("mscn-purify: warning: net \(net) round \(round): \(problem)")
            }
            try StageOutputs.writeAll([
                (out, {
                    try TensorFiles.write(out, [
                        StoredTensor(name: Schema.pClean, shape: [m], floats: pClean),
                        StoredTensor(name: Schema.keep, shape: [m], uint8s: keep),
                        StoredTensor(name: Schema.score, shape: [m], floats: score),
                    ], metadata: ["stage": "mscn-purify", "net": net, "round": String(round), "seed": String(seed)])
                }),
                (report, { try RoundReport(round: round, net: net, purification: summary).write(to: report) }),
            ])
            print(String(format: "purify %@ round %d: kept %d of %d (%.1f%%), precision %.3f, recall %.3f",
                         net, round, summary.kept, summary.captions, 100 * summary.keptFraction,
                         summary.precision ?? .nan, summary.recall ?? .nan))
        }
    }
}
