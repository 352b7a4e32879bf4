import ArgumentParser
import Artefacts
import Engine
import Foundation
import MSCNRandom
import MSCN
import StageKit
import TensorFile
import Training

extension MetaGradientMethod: ExpressibleByArgument {}

/// `mscn-train`: warm-up of one net, or one MSCN epoch of one net on the captions a purification
/// mask keeps. Reads artefacts, writes the next checkpoint and a per-step log.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-train",
        abstract: "Train one MSCN net: the warm-up, or one round (epoch) with the meta step.",
        discussion: """
        --mode baseline continues --initial for one epoch of the warm-up loss on every training caption, \
        without meta net updates or purification (the robust-loss baseline). --mode standard continues \
        --initial for one epoch of the standard SGRAF loss (hardest negatives, fixed --margin) on every \
        training caption, the scorer head trained with the net, no meta step and no purification (the \
        paper's SGRAF row; with --clean-only, its SGR-C oracle row). --mode warmup creates a net from --seed \
        and the size options and runs --warmup-epochs epochs of the warm-up loss (or up to --until-epoch; \
        with --initial it continues a partial warm-up from the epoch that checkpoint reached, and \
        --previous-log prepends that part's log, so a warm-up can run as one cached stage per epoch \
        with bit-identical results); with --regime it then scores every \
        training caption with its noisy image (eval mode) and prints the AUC of clean vs noisy pairs \
        (the regime check; also in the checkpoint's metadata and in --regime, with the same AUC on \
        round 1's meta set: its clean pairs against its drawn negatives). --mode regime runs that \
        check alone on --initial (a warm-up checkpoint, or any other) and writes --regime, without \
        training or --out: the pipelines check the warm-up's last epoch as a stage of its own, since \
        scoring every caption at the end of every epoch stage lengthened the warm-up. --clean-only (warmup, \
        standard) trains on the captions the noise map labels clean only. --extend-until-auc (warmup; \
        not in the reference) keeps a finished warm-up training epoch by epoch until its regime check \
        reaches that AUC, up to --max-warmup-epochs (--auc-of meta waits for the meta set's AUC instead, \
        which needs no labels of the training pairs); its checkpoint still starts the rounds that \
        give the planned --warmup-epochs. --mode round loads --init (the net's previous checkpoint), trains one epoch on \
        the captions --mask keeps (purified by the other net), with the meta step every --meta-interval \
        steps, and writes --out. Round 1 starts fresh Adam states (the reference re-creates them after \
        the warm-up); later rounds continue them. Learning rates decay ×0.1 every --lr-decay-every \
        epochs, counting the warm-up epochs.
        """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable { case warmup, round, baseline, standard, regime }
    enum Module: String, ExpressibleByArgument, CaseIterable { case sgr, saf }
    /// The AUC an extended warm-up waits for.
    enum AUCSource: String, ExpressibleByArgument, CaseIterable { case labels, meta }

    @Option(help: "warmup, round, baseline, standard or regime.") var mode: Mode
    @Option(help: "Net name, A or B (names its random streams).") var net: String = "A"
    @OptionGroup var inputs: TrainingInputOptions
    @Option(help: "Previous checkpoint of this net (round, baseline, standard; warmup: a partial warm-up to continue).") var initial: String?
    @Option(name: .customLong("until-epoch"), help: "Warm-up: stop after this many warm-up epochs in all (default --warmup-epochs).") var untilEpoch: Int?
    @Option(name: .customLong("previous-log"), help: "Warm-up with --initial: that part's log, prepended to --log.") var previousLog: String?
    @Option(name: .customLong("extend-until-auc"),
            help: "Warm-up (not in the reference; off by default): after --warmup-epochs, keep training epoch by epoch until the regime check's AUC (--auc-of) reaches this value or --max-warmup-epochs.")
    var extendUntilAUC: Double?
    @Option(name: .customLong("max-warmup-epochs"), help: "With --extend-until-auc: warm-up epochs in all at most.") var maxWarmupEpochs: Int?
    @Option(name: .customLong("auc-of"),
            help: "With --extend-until-auc: which AUC to wait for: labels (the default: clean vs noisy training pairs, from the noise map's clean labels: synthetic noise only) or meta (the meta set's clean pairs vs its drawn negatives: no training labels needed, so real noisy data too).")
    var aucOf: AUCSource?
    @Option(help: "Purification mask from the other net (round mode; default keeps every caption).") var mask: String?
    @Option(help: "Round (epoch after warm-up), from 1 (round mode).") var round: Int = 1
    @Option(help: "Output checkpoint (every mode but regime).") var out: String?
    @Option(help: "Per-step log (TSV: step, epoch, loss, meta_loss, lr).") var log: String?
    @Option(name: .customLong("batch-plan-out"),
            help: "Round mode: also write the round's batch plan (JSON: main batches and meta batches step by step, the meta set), before training on it.")
    var batchPlanOut: String?
    @Option(help: "Regime check (JSON: clean-vs-noisy AUC of the net's scores on the training pairs, and on the meta set; warmup and regime modes).") var regime: String?
    @Flag(name: .customLong("clean-only"), help: "Train on the captions the noise map labels clean only (warmup, standard: the oracle).") var cleanOnly = false
    @Option(help: "Seed (initial weights, dropout, batches, meta negatives).") var seed: UInt64 = 0

    @Option(help: "Similarity module: sgr or saf.") var module: Module = .sgr
    // Sizes are optional so that one given with --initial can be checked against the checkpoint.
    @Option(name: .customLong("embed-size"), help: "Joint embedding size d (default 1024).") var embedSize: Int?
    @Option(name: .customLong("word-dim"), help: "Word vector size (default 300).") var wordDim: Int?
    @Option(name: .customLong("sim-dim"), help: "Similarity vector size s (default 256).") var simDim: Int?
    @Option(name: .customLong("meta-hidden"), help: "Meta net hidden size (default 64).") var metaHidden: Int?
    @Option(help: "Dropout of the text encoder and self-attention.") var dropout: Float = 0.4
    @Option(name: .customLong("round-dropout"),
            help: "Round, baseline, standard: train with this dropout rate instead of the checkpoint's (a comparison knob: 0 against the official code with its dropout off); the written checkpoint records it.")
    var roundDropout: Float?
    @Option(help: "Ranking margin.") var margin: Float = 0.2
    @Option(name: .customLong("grad-clip"), help: "Gradient-norm clip of the main step.") var gradClip: Float = 2.0

    @Option(name: .customLong("batch-size"), help: "Batch size of rounds (and of meta batches).") var batchSize: Int = 64
    @Option(name: .customLong("warmup-batch-size"), help: "Batch size of the warm-up.") var warmupBatchSize: Int = 128
    @Option(help: "Learning rate.") var lr: Float = 2e-4
    @Option(name: .customLong("meta-lr"), help: "Meta net learning rate.") var metaLR: Float = 1.7e-5
    @Option(name: .customLong("lr-decay-every"), help: "Epochs between ×0.1 decays (0: never).") var lrDecayEvery: Int = 30
    @Option(name: .customLong("warmup-epochs"), help: "Warm-up epochs.") var warmupEpochs: Int = 5
    @Option(name: .customLong("meta-interval"), help: "Meta step every N steps.") var metaInterval: Int = 1

    @Option(name: .customLong("meta-grad"),
            help: "The meta-gradient's second-order term: exact (forward-over-reverse, as the reference's autograd) or finite-difference (central difference along u; off by 5-23% of the meta-gradient at the pipelines' sizes and rate 2e-4, README \"Parity with the Python reference\").")
    var metaGrad: MetaGradientMethod = .exact
    @Flag(name: .customLong("clip-pseudo-step"), help: "Correct quirk 1: clip the look-ahead gradient.") var clipPseudoStep = false
    @Flag(name: .customLong("adam-pseudo-step"), help: "Correct quirk 2: precondition the look-ahead with Adam.") var adamPseudoStep = false
    @Flag(name: .customLong("freeze-gru-lookahead"), help: "Quirk 8 option: keep the GRU fixed in the look-ahead (PyTorch 1.7).") var freezeGRU = false
    @Flag(name: .customLong("exact-negative-check"), help: "Correct quirk 9: meta negatives avoid the caption's true image.") var exactNegativeCheck = false

    func validate() throws {
        if mode != .warmup && initial == nil { throw ValidationError("--mode \(mode.rawValue) needs --initial (the previous checkpoint)") }
        if (mode == .baseline || mode == .standard) && mask != nil { throw ValidationError("--mode \(mode.rawValue) trains without purification: no --mask") }
        if cleanOnly && !(mode == .warmup || mode == .standard) { throw ValidationError("--clean-only applies to --mode warmup and standard") }
        if regime != nil && mode != .warmup && mode != .regime { throw ValidationError("--regime is written by --mode warmup and --mode regime only") }
        if mode == .regime {
            if regime == nil { throw ValidationError("--mode regime writes --regime: give its path") }
            if out != nil || log != nil { throw ValidationError("--mode regime trains nothing: no --out or --log") }
        } else if out == nil {
            throw ValidationError("--mode \(mode.rawValue) writes a checkpoint: give --out")
        }
        if let p = roundDropout {
            if mode == .warmup || mode == .regime { throw ValidationError("--round-dropout continues a checkpoint's training (round, baseline, standard); the warm-up takes --dropout") }
            guard p >= 0 && p < 1 else { throw ValidationError("--round-dropout must be in [0, 1)") }
        }
        if batchPlanOut != nil && mode != .round { throw ValidationError("--batch-plan-out is written by --mode round only") }
        if (mode == .warmup || mode == .regime) && mask != nil { throw ValidationError("--mode \(mode.rawValue) takes no --mask") }
        if mode != .warmup && (untilEpoch != nil || previousLog != nil) { throw ValidationError("--until-epoch and --previous-log belong to --mode warmup") }
        if previousLog != nil && initial == nil { throw ValidationError("--previous-log continues the log of --initial: give both") }
        if let u = untilEpoch, !(1...max(warmupEpochs, 1)).contains(u) { throw ValidationError("--until-epoch must be in 1...--warmup-epochs (\(warmupEpochs))") }
        if aucOf != nil && extendUntilAUC == nil { throw ValidationError("--auc-of says which AUC --extend-until-auc waits for: give both") }
        if extendUntilAUC != nil || maxWarmupEpochs != nil {
            guard mode == .warmup else { throw ValidationError("--extend-until-auc and --max-warmup-epochs belong to --mode warmup") }
            guard let auc = extendUntilAUC, let most = maxWarmupEpochs else { throw ValidationError("--extend-until-auc and --max-warmup-epochs go together") }
            guard auc > 0, auc <= 1 else { throw ValidationError("--extend-until-auc is an AUC: in (0, 1]") }
            guard most > warmupEpochs else { throw ValidationError("--max-warmup-epochs (\(most)) must exceed --warmup-epochs (\(warmupEpochs))") }
            // Extending from a cut-short part would skip the planned epochs' own check.
            if let u = untilEpoch, u != warmupEpochs { throw ValidationError("--extend-until-auc extends the whole warm-up: --until-epoch must be --warmup-epochs") }
        }
        guard round >= 1 else { throw ValidationError("--round starts at 1") }
        guard batchSize >= 2, warmupBatchSize >= 2 else { throw ValidationError("batch sizes must be at least 2 (batch norm)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive and finite") }
        guard metaLR >= 0, metaLR.isFinite else { throw ValidationError("--meta-lr must be non-negative and finite") }
        guard metaInterval >= 1 else { throw ValidationError("--meta-interval must be at least 1") }
        guard warmupEpochs >= 0 else { throw ValidationError("--warmup-epochs must be at least 0") }
        // The name picks the net's random streams; a third name would be a third, untested net.
        guard ["A", "B"].contains(net.uppercased()) else { throw ValidationError("--net is A or B, not \(net)") }
        guard lrDecayEvery >= 0 else { throw ValidationError("--lr-decay-every must be 0 (never) or positive") }
        try StageOutputs.requireDistinct([("--out", out), ("--log", log), ("--regime", regime), ("--batch-plan-out", batchPlanOut)])
        // The size and loss options, as a fresh net would take them (a continued one keeps its own).
        var c = ModelConfig(imageDim: 1, embedDim: sizes.embed, wordDim: sizes.word, simDim: sizes.sim, vocabSize: 1,
                            variant: module == .sgr ? .sgr : .saf, metaHidden: sizes.metaHidden, regions: 1)
        c.dropout = dropout
        c.margin = margin
        c.gradClip = gradClip
        let flags = ["embed_size": "--embed-size", "word_dim": "--word-dim", "sim_dim": "--sim-dim", "meta_hidden": "--meta-hidden",
                     "dropout": "--dropout", "margin": "--margin", "grad_clip": "--grad-clip"]
        if let problem = c.problems.first { throw ValidationError("\(flags[problem.option] ?? problem.option) \(problem.detail)") }
    }

    var options: TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = batchSize
        o.warmupBatchSize = warmupBatchSize
        o.learningRate = lr
        o.metaLearningRate = metaLR
        o.lrDecayEvery = lrDecayEvery
        o.warmupEpochs = warmupEpochs
        o.metaInterval = metaInterval
        o.referenceNegativeCheck = !exactNegativeCheck
        o.cleanOnly = cleanOnly
        return o
    }

    /// A new net from the size options; each net has its own initial weights and dropout stream.
    func freshModel(_ data: TrainingData, net: String) -> Model {
        var config = ModelConfig(imageDim: data.features.dim, embedDim: sizes.embed, wordDim: sizes.word, simDim: sizes.sim,
                                 vocabSize: data.vocabularySize, variant: module == .sgr ? .sgr : .saf, metaHidden: sizes.metaHidden,
                                 regions: data.features.regions)
        config.dropout = dropout
        config.margin = margin
        config.gradClip = gradClip
        config.meta.clipPseudoGradient = clipPseudoStep
        config.meta.adamPseudoStep = adamPseudoStep
        config.meta.freezeGRUInLookahead = freezeGRU
        var netSeed = SeededGenerator(seed: seed, stream: "model-\(net)")
        return Model(config: config, seed: netSeed.next())
    }

    /// The sizes a fresh net takes: the options, else the reference's defaults.
    var sizes: (embed: Int, word: Int, sim: Int, metaHidden: Int) {
        (embedSize ?? 1024, wordDim ?? 300, simDim ?? 256, metaHidden ?? 64)
    }

    /// A continued net keeps its sizes (one given as an option must be the checkpoint's) and must
    /// fit the data it continues on.
    func requireContinuable(_ c: ModelConfig, on data: TrainingData, path: String) throws {
        for (flag, given, has) in [("--embed-size", embedSize, c.embedDim), ("--word-dim", wordDim, c.wordDim),
                                   ("--sim-dim", simDim, c.simDim), ("--meta-hidden", metaHidden, c.metaHidden)] {
            if let given, given != has {
                throw StageError("\(flag) \(given) differs from this checkpoint's \(has): a continued net keeps its sizes", path: path)
            }
        }
        try ModelChecks.compatible(c, with: data, path: path)
    }

    /// A warm-up checkpoint to continue, and how many warm-up epochs it holds.
    static func loadPartialWarmup(_ path: String, net: String) throws -> (Model, Int) {
        let metadata = try TensorFileReader(path: path).metadata
        guard metadata["mode"] == "warmup", let done = metadata["warmup_epochs_done"].flatMap(Int.init) else {
            throw StageError("not a partial warm-up checkpoint (no mode=warmup with warmup_epochs_done)", path: path)
        }
        if let own = metadata["net"], own != net {
            throw StageError("holds net \(own)'s warm-up, not net \(net)'s (each net has its own weights and dropout stream)", path: path)
        }
        return (try Checkpoint.load(path).model, done)
    }

    /// The lines of the warm-up log that `--initial` continues: a training log of exactly the
    /// `done` epochs the checkpoint holds, `stepsPerEpoch` steps each, every line well formed. It is
    /// copied into this stage's log, so a damaged one would pass on unnoticed to the report.
    static func previousWarmupLog(_ path: String, epochsDone done: Int, stepsPerEpoch: Int) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw StageError("cannot read the previous warm-up log", path: path)
        }
        var old = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard old.first == StepLogLine.header else { throw StageError("not a training log (no header)", path: path) }
        guard old.last == "" else { throw StageError("ends inside a line (cut short?)", path: path) }
        old.removeLast()
        let fields = StepLogLine.header.split(separator: "\t").count
        var expected = (epoch: 0, step: 0)
        for (i, line) in old.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == fields, let step = Int(f[0]), let epoch = Int(f[1]), Float(f[2]) != nil, Float(f[4]) != nil else {
                throw StageError("line \(i + 1) is not a step line (\(fields) tab-separated fields, numbers for step, epoch, loss and lr)", path: path)
            }
            if expected.step == stepsPerEpoch { expected = (expected.epoch + 1, 0) }
            guard (epoch, step) == expected else {
                throw StageError("line \(i + 1) holds epoch \(epoch + 1) step \(step), expected epoch \(expected.epoch + 1) step \(expected.step) (\(stepsPerEpoch) steps per epoch): steps are missing or out of order", path: path)
            }
            expected.step += 1
        }
        guard old.count - 1 == done * stepsPerEpoch else {
            throw StageError("holds \(old.count - 1) steps, the checkpoint it should continue holds \(done) warm-up epochs of \(stepsPerEpoch) steps", path: path)
        }
        return Array(old.dropFirst())
    }

    /// The previous checkpoint that a baseline, standard or MSCN round continues, checked against
    /// the data; Adam starts afresh once, at round 1 (SPEC §6: re-created after the warm-up).
    func continuedModel(_ data: TrainingData) throws -> Model {
        guard let initial else { throw StageError("--mode \(mode.rawValue) needs --initial") }
        // Round 1 continues the warm-up: one cut short (a stage of the per-epoch chain) would start
        // the rounds early, at the learning rate of the epoch that --warmup-epochs implies.
        let loaded = try Checkpoint.load(initial)
        var model = loaded.model
        // An extended warm-up (--extend-until-auc) holds more epochs than planned; the rounds still
        // count from the planned length, which its checkpoint records.
        let planned = loaded.metadata["warmup_extended_from"].flatMap(Int.init)
        if round == 1, loaded.metadata["mode"] == "warmup", let done = loaded.metadata["warmup_epochs_done"].flatMap(Int.init),
           (planned ?? done) != warmupEpochs {
            throw StageError("holds \(done) warm-up epochs, --warmup-epochs says \(warmupEpochs)", path: initial)
        }
        try requireContinuable(model.config, on: data, path: initial)
        if let roundDropout {
            var config = model.config
            config.dropout = roundDropout
            let m = Model(config: config, net: model.net, meta: model.meta, buffers: model.buffers,
                          dropoutGenerator: model.dropoutGenerator)
            m.netAdam = model.netAdam
            m.metaAdam = model.metaAdam
            model = m
        }
        if round == 1 { model.resetOptimizers() }
        return model
    }

    /// Warm-up `epochs` of `model`, with progress under `label`.
    func trainWarmup(_ model: Model, trainer: Trainer, _ epochs: Range<Int>, label: String, onStep: (StepLogLine) -> Void) {
        let perEpoch = BatchPlan.count(trainer.trainingCaptions.count, batchSize: warmupBatchSize)
        let progress = StageKit.Progress(label, total: perEpoch * epochs.count)
        var steps = 0
        trainer.warmup(model, epochs: epochs) { line in
            onStep(line)
            steps += 1
            progress.update(steps, detail: String(format: "epoch %d loss %.4f", line.epoch + 1, line.loss))
        }
    }

    /// `--extend-until-auc`: warm-up epochs after `from`, one at a time, until the regime check's
    /// AUC of `source` reaches `target` or the warm-up holds `most` epochs. Returns the epochs held
    /// and the last check.
    func extendWarmup(_ model: Model, trainer: Trainer, data: TrainingData, from: Int, target: Double, most: Int,
                      source: AUCSource, onStep: (StepLogLine) -> Void) throws -> (Int, WarmupRegime) {
        var done = from
        var check = try checkRegime(model, data: data)
        let name = source == .meta ? "meta AUC" : "AUC"
        let net = self.net.uppercased()   // as the regime check's own line names it
        while true {
            let value: Double
            switch source {
            case .labels:
                guard let auc = check.auc else {
                    throw StageError("--extend-until-auc needs clean and noisy training pairs, but the noise map labels every one \(check.cleanCaptions == 0 ? "noisy" : "clean") (--auc-of meta needs no training labels)", path: inputs.noise)
                }
                value = auc
            case .meta:
                // The meta set always holds positives and as many negatives (MetaSet.forRound).
                guard let auc = check.metaAUC else { throw StageError("the regime check has no meta AUC", path: inputs.meta) }
                value = auc
            }
            let held = done == 1 ? "1 epoch" : "\(done) epochs"
            if value >= target {
                print("warm-up \(net): " + String(format: "%@ %.3f reaches %.3f after %@", name, value, target, held))
                break
            }
            guard done < most else {
                Stage.note("mscn-train: warning: warm-up \(net): " + String(format: "%@ %.3f after %@ (--max-warmup-epochs) is still below %.3f; the rounds start from it", name, value, held, target))
                break
            }
            print("warm-up \(net): " + String(format: "%@ %.3f after %@ is below %.3f: epoch %d of at most %d", name, value, held, target, done + 1, most))
            trainWarmup(model, trainer: trainer, done..<(done + 1), label: "warm-up \(net) (extended)", onStep: onStep)
            done += 1
            check = try checkRegime(model, data: data)
        }
        return (done, check)
    }

    /// The regime check of `model` (the meta AUC on round 1's meta set, as the first purification
    /// draws it), with progress, printed.
    func checkRegime(_ model: Model, data: TrainingData) throws -> WarmupRegime {
        let meta = try data.metaSet(seed: seed, round: 1, referenceNegativeCheck: !exactNegativeCheck)
        let scoring = StageKit.Progress("regime check \(net.uppercased())", total: data.baseCaptions.count + meta.pairs.count)
        let check = try WarmupRegime.measure(model, data: data, net: net.uppercased(), meta: meta) { done, _ in scoring.update(done) }
        print(check.summary)
        return check
    }

    func run() throws {
        Stage.run("mscn-train") {
            try StageOutputs.requireWritableFolders([out, log, regime, batchPlanOut])
            let replay = BLAS.serialReplay
            if replay.refused {
                Stage.note("mscn-train: note: \(replay.status) (results are the same either way)")
            }
            let data = try TrainingData.load(features: inputs.features, corpus: inputs.corpus, noise: inputs.noise,
                                             meta: inputs.meta, devFeatures: inputs.devFeatures,
                                             metaFeatures: inputs.metaFeatures)
            let net = self.net.uppercased()
            if mode == .regime {
                guard let initial, let regime else { throw StageError("--mode regime needs --initial and --regime") }
                let model = try Checkpoint.load(initial).model
                try ModelChecks.compatible(model.config, with: data, path: initial)
                try checkRegime(model, data: data).write(to: regime)
                return
            }
            guard let out else { throw StageError("--mode \(mode.rawValue) needs --out") }
            let trainer = Trainer(data: data, options: options, seed: seed, net: net)
            if cleanOnly && trainer.trainingCaptions.count < 2 {
                throw StageError("--clean-only: the noise map labels \(trainer.trainingCaptions.count) training captions clean, too few to train", path: inputs.noise)
            }
            // A split that left (almost) nothing to train on would write an untrained checkpoint.
            if (mode == .baseline ? data.baseCaptions.count : trainer.trainingCaptions.count) < 2 {
                throw StageError("the meta split keeps \(data.baseCaptions.count) of \(data.captions.captionCount) training captions for training: too few to train", path: inputs.meta)
            }
            var lines: [String] = [StepLogLine.header]
            var batchPlan: Data? = nil
            var extra: [String: String] = [:]
            var regimeWrite: (() throws -> Void)?   // with the checkpoint and the log, all or none
            let model: Model
            switch mode {
            case .warmup:
                let perEpoch = BatchPlan.count(trainer.trainingCaptions.count, batchSize: warmupBatchSize)
                let done: Int
                if let initial {
                    let (loaded, epochs) = try Self.loadPartialWarmup(initial, net: net)
                    model = loaded
                    try requireContinuable(model.config, on: data, path: initial)
                    done = epochs
                    if let previousLog { lines += try Self.previousWarmupLog(previousLog, epochsDone: done, stepsPerEpoch: perEpoch) }
                } else {
                    model = freshModel(data, net: net)
                    done = 0
                }
                let until = untilEpoch ?? warmupEpochs
                guard done < until || (done == 0 && until == 0) else {
                    throw StageError("the warm-up already ran \(done) epochs; --until-epoch \(until) has nothing to add", path: initial)
                }
                extra["warmup_epochs_done"] = String(until)
                trainWarmup(model, trainer: trainer, done..<until, label: "warm-up \(net)") { lines.append($0.tsv) }
                var check: WarmupRegime? = nil
                if let target = extendUntilAUC, let most = maxWarmupEpochs {
                    let (extended, last) = try extendWarmup(model, trainer: trainer, data: data, from: until, target: target, most: most,
                                                            source: aucOf ?? .labels) { line in
                        lines.append(line.tsv)
                    }
                    check = last
                    extra["warmup_epochs_done"] = String(extended)
                    extra["warmup_extended_from"] = String(until)
                }
                if let regime {
                    let check = try check ?? checkRegime(model, data: data)
                    extra["warmup_auc"] = check.auc.map { String($0) } ?? "n/a"
                    regimeWrite = { try check.write(to: regime) }
                }
            case .baseline, .standard:
                model = try continuedModel(data)
                // The baseline trains on every caption; standard on trainingCaptions (the clean ones with --clean-only).
                let (captions, epoch) = mode == .standard
                    ? (trainer.trainingCaptions.count, trainer.standardRound)
                    : (data.baseCaptions.count, trainer.baselineRound)
                let progress = StageKit.Progress("\(mode.rawValue) round \(round) net \(net)",
                                                 total: BatchPlan.count(captions, batchSize: batchSize))
                epoch(model, round) { line in
                    lines.append(line.tsv)
                    progress.update(lines.count - 1, detail: String(format: "loss %.4f", line.loss))
                }
            case .regime:
                return   // checked above, before any training state
            case .round:
                model = try continuedModel(data)
                model.metaGradientMethod = metaGrad
                var keep: [UInt8]? = nil
                if let mask {
                    let k = try Schema.flags(TensorFileReader(path: mask).read(Schema.keep).uint8s(), Schema.keep, path: mask)
                    guard k.count == data.captions.captionCount else {
                        throw StageError("mask has \(k.count) entries, the training split has \(data.captions.captionCount) captions", path: mask)
                    }
                    keep = k
                }
                let plan = try trainer.roundPlan(round: round, keep: keep)
                guard !plan.batches.isEmpty else {
                    // A batch needs a caption and a negative: one caption kept cuts no batch.
                    let kept = plan.captions.count
                    throw StageError(kept == 0 ? "the mask keeps no training caption: nothing to train on"
                                               : "the mask keeps \(kept) training caption, and a batch needs 2 (a pair and a negative): nothing to train on",
                                     path: mask ?? inputs.meta)
                }
                if batchPlanOut != nil { batchPlan = try plan.json(batchSize: batchSize, metaInterval: metaInterval) }
                let progress = StageKit.Progress("round \(round) net \(net)", total: plan.batches.count)
                trainer.round(model, plan: plan) { line in
                    lines.append(line.tsv)
                    progress.update(lines.count - 1, detail: String(format: "loss %.4f meta %.4f", line.loss, line.metaLoss ?? .nan))
                }
            }
            var writes: [(path: String, write: () throws -> Void)] = [(out, {
                try Checkpoint.save(model, to: out, metadata: [
                    "stage": "mscn-train", "mode": mode.rawValue, "net": net, "round": mode == .warmup ? "0" : String(round),
                    "seed": String(seed), "clean_only": String(cleanOnly),
                ].merging(extra) { $1 })
            })]
            if let log {
                writes.append((log, { try AtomicWrite.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: log) }))
            }
            if let regime, let regimeWrite { writes.append((regime, regimeWrite)) }
            // Written with the checkpoint, all or none, so a failed round leaves no plan behind.
            if let batchPlanOut, let batchPlan {
                writes.append((batchPlanOut, { try AtomicWrite.write(batchPlan, to: batchPlanOut) }))
            }
            try StageOutputs.writeAll(writes)
        }
    }
}
