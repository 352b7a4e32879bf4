import Foundation
import MSCN
import MSCNRandom

/// Schedule and batch options of the training stage (SPEC §6 defaults).
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var batchSize = 64
    public var warmupBatchSize = 128
    public var learningRate: Float = 2e-4
    public var metaLearningRate: Float = 1.7e-5
    public var lrDecayEvery = 30
    public var warmupEpochs = 5
    public var metaInterval = 1
    /// SPEC quirk 9: compare the caption index with the image index when drawing meta negatives.
    public var referenceNegativeCheck = true
    /// Train on the captions whose noisy image is their own only (the oracle row; warm-up and
    /// standard epochs). Needs synthetic noise, whose clean labels are known.
    public var cleanOnly = false
    public init() {}
}

/// One line of the per-step log (`log.tsv`).
public struct StepLogLine: Sendable {
    public var step: Int
    public var epoch: Int
    public var loss: Float
    public var metaLoss: Float?
    public var lr: Float
    /// Mean training-mode score of the batch's own pairs (the meta net's output) in the main
    /// update, and the mean self-adaptive margin `0.2·p²/(p²+(1−p)²)` it gives (rounds only).
    public var scoreMean: Float?
    public var marginMean: Float?

    public init(step: Int, epoch: Int, loss: Float, metaLoss: Float?, lr: Float, scoreMean: Float? = nil, marginMean: Float? = nil) {
        self.step = step
        self.epoch = epoch
        self.loss = loss
        self.metaLoss = metaLoss
        self.lr = lr
        self.scoreMean = scoreMean
        self.marginMean = marginMean
    }

    /// With the round's statistics of `diagonal` (the main update's diagonal scores).
    public init(step: Int, epoch: Int, loss: Float, metaLoss: Float?, lr: Float, diagonal: [Float], margin: Float) {
        let n = Float(max(diagonal.count, 1))
        let margins = diagonal.map { p in margin * p * p / (p * p + (1 - p) * (1 - p)) }
        self.init(step: step, epoch: epoch, loss: loss, metaLoss: metaLoss, lr: lr,
                  scoreMean: diagonal.reduce(0, +) / n, marginMean: margins.reduce(0, +) / n)
    }

    public static let header = "step\tepoch\tloss\tmeta_loss\tlr\tscore_mean\tmargin_mean"
    public var tsv: String {
        func opt(_ v: Float?) -> String { v.map { "\($0)" } ?? "" }
        return "\(step)\t\(epoch)\t\(loss)\t\(opt(metaLoss))\t\(lr)\t\(opt(scoreMean))\t\(opt(marginMean))"
    }
}

/// Runs warm-up epochs and MSCN rounds of one net over `TrainingData`.
public struct Trainer {
    public var data: TrainingData
    public var options: TrainingOptions
    public var seed: UInt64
    /// "A" or "B": names the random streams so the two nets see different batches.
    public var net: String

    public init(data: TrainingData, options: TrainingOptions, seed: UInt64, net: String) {
        self.data = data
        self.options = options
        self.seed = seed
        self.net = net
    }

    /// The captions warm-up, baseline and standard epochs train on: every training caption, or
    /// with `cleanOnly` those the noise left on their own image.
    public var trainingCaptions: [Int] {
        options.cleanOnly ? data.baseCaptions.filter { data.noisy.clean[$0] != 0 } : data.baseCaptions
    }

    /// `warmupEpochs` epochs of the warm-up loss on the noisy training set (or its clean part).
    /// `epochs` (default all) selects a part, so a warm-up can run as one stage per epoch: each
    /// epoch draws its own batch stream and the model carries the dropout stream and Adam moments,
    /// so epochs 0..<k then k..<n give bit-identical weights to 0..<n in one go.
    public func warmup(_ model: Model, epochs: Range<Int>? = nil, onStep: (StepLogLine) -> Void) {
        let captions = trainingCaptions
        for epoch in epochs ?? 0..<options.warmupEpochs {
            let lr = scheduledLearningRate(base: options.learningRate, epoch: epoch, decayEvery: options.lrDecayEvery)
            var g = SeededGenerator(seed: seed, stream: "batches-warmup-\(net)-\(epoch)")
            let batches = BatchPlan.epoch(captions: captions, imageOf: data.imageOf, batchSize: options.warmupBatchSize, generator: &g)
            for (i, b) in batches.enumerated() {
                let loss = model.warmupStep(data.pairBatch(b), lr: lr)
                onStep(StepLogLine(step: i, epoch: epoch, loss: loss, metaLoss: nil, lr: lr))
            }
        }
    }

    /// One epoch of the uncorrected baseline (`round` ≥ 1): warm-up loss on every training
    /// caption with its noisy image, main net only, no purification.
    public func baselineRound(_ model: Model, round: Int, onStep: (StepLogLine) -> Void) {
        epochWithoutMetaStep(round: round, stream: "baseline", captions: data.baseCaptions, onStep: onStep) {
            model.baselineStep($0, lr: $1)
        }
    }

    /// One epoch (`round` ≥ 1) of standard training: the hardest-negative loss with the fixed
    /// margin on `trainingCaptions` with their noisy images, θ and φ together, no meta step and
    /// no purification (the paper's SGRAF row, or with `cleanOnly` its SGR-C oracle row).
    public func standardRound(_ model: Model, round: Int, onStep: (StepLogLine) -> Void) {
        epochWithoutMetaStep(round: round, stream: "standard", captions: trainingCaptions, onStep: onStep) {
            model.standardStep($0, lr: $1)
        }
    }

    /// One post-warm-up epoch (`round` ≥ 1) of a method without meta step: `captions` in batches
    /// drawn from the stream `batches-<stream>-<net>-<round>`, each trained by `step(batch, lr)`.
    private func epochWithoutMetaStep(round: Int, stream: String, captions: [Int], onStep: (StepLogLine) -> Void,
                                      _ step: (PairBatch, Float) -> Float) {
        let epoch = options.warmupEpochs + round - 1
        let lr = scheduledLearningRate(base: options.learningRate, epoch: epoch, decayEvery: options.lrDecayEvery)
        var g = SeededGenerator(seed: seed, stream: "batches-\(stream)-\(net)-\(round)")
        let batches = BatchPlan.epoch(captions: captions, imageOf: data.imageOf, batchSize: options.batchSize, generator: &g)
        for (i, b) in batches.enumerated() {
            let loss = step(data.pairBatch(b), lr)
            onStep(StepLogLine(step: i, epoch: epoch, loss: loss, metaLoss: nil, lr: lr))
        }
    }

    /// The batches and meta batches of MSCN round `round` (≥ 1) on the captions `keep` retains
    /// (nil: all): the captions shuffled by the stream `batches-round-<net>-<round>`, the meta set
    /// of the round, its meta batches cycled, one per meta step.
    public func roundPlan(round: Int, keep: [UInt8]?) throws -> RoundPlan {
        let captions = data.baseCaptions.filter { keep == nil || keep?[$0] != 0 }
        var g = SeededGenerator(seed: seed, stream: "batches-round-\(net)-\(round)")
        let batches = BatchPlan.epoch(captions: captions, imageOf: data.imageOf, batchSize: options.batchSize, generator: &g)
        let metaSet = try data.metaSet(seed: seed, round: round, referenceNegativeCheck: options.referenceNegativeCheck)
        let metaBatches = metaSet.batchIndices(size: options.batchSize, seed: seed, round: round, net: net)
        var nextMeta = 0
        var metaSteps: [[Int]?] = []
        for i in batches.indices {
            if i % max(options.metaInterval, 1) == 0 && !metaBatches.isEmpty {
                metaSteps.append(metaBatches[nextMeta % metaBatches.count])
                nextMeta += 1
            } else {
                metaSteps.append(nil)
            }
        }
        return RoundPlan(round: round, net: net, seed: seed, captions: captions, batches: batches, metaSet: metaSet, metaSteps: metaSteps)
    }

    /// One MSCN epoch (`round` ≥ 1) on the batches of `plan` (from `roundPlan`).
    public func round(_ model: Model, plan: RoundPlan, onStep: (StepLogLine) -> Void) {
        let epoch = options.warmupEpochs + plan.round - 1
        let lr = scheduledLearningRate(base: options.learningRate, epoch: epoch, decayEvery: options.lrDecayEvery)
        let metaLR = scheduledLearningRate(base: options.metaLearningRate, epoch: epoch, decayEvery: options.lrDecayEvery)
        for (i, b) in plan.batches.enumerated() {
            let batch = data.pairBatch(b)
            if let pairs = plan.metaPairs(step: i) {
                let mb = data.metaBatch(pairs)
                let (loss, metaLoss) = model.trainStep(batch, meta: mb, lr: lr, metaLR: metaLR)
                onStep(StepLogLine(step: i, epoch: epoch, loss: loss, metaLoss: metaLoss, lr: lr,
                                   diagonal: model.lastDiagonal, margin: model.config.margin))
            } else {
                let loss = model.mainStep(batch, lr: lr)
                onStep(StepLogLine(step: i, epoch: epoch, loss: loss, metaLoss: nil, lr: lr))
            }
        }
    }
}
