import ArgumentParser
import Foundation
import MSCN
import StageKit
import TensorFile

/// `mscn weights export|import`: checkpoints to and from safetensors files in the reference's
/// state-dict names, so weights travel to and from the official PyTorch code.
struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Exchange weights with PyTorch (safetensors or torch.save files in the reference's state-dict names).",
        subcommands: [WeightsExport.self, WeightsImport.self]
    )
}

struct WeightsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the weights of one or two checkpoints (nets A and B) as a safetensors file or an official checkpoint (.pth.tar).",
        discussion: """
        OUT.safetensors: tensors named as the reference's checkpoint: net_A.<SGRAF state_dict name>, \
        meta_net_A.<Meta_Sim state_dict name>, and net_B.*, meta_net_B.* for a second checkpoint; \
        float32 weights and running statistics, int64 num_batches_tracked. The header metadata holds \
        the model configuration (model_config.<net>) and the reference's options (reference_opt.<net>).

        OUT.pth.tar (or .pth, .pt): the official code's own checkpoint, written without Python as \
        torch.save writes it: {"epoch", "net_A", "meta_net_A", "net_B", "meta_net_B", "opt"}, so \
        main_MSCN.py --warmup_model_path continues from it and evaluation_meta.evalrank evaluates it \
        (torch.load(..., weights_only=False), as for the official code's own files: opt is an \
        argparse.Namespace; with --no-opt, torch's default weights_only=True loads it). opt holds the \
        model options and evaluation's (data_name f30k_precomp, meta_net_hidden_size, ...); --opt \
        KEY=VALUE sets others or overrides them, typed as the official opt.py types them.

        Adam moments and the dropout stream are not exported.
        """
    )

    @Argument(help: "Checkpoint of net A, optionally net B's, then the output .safetensors or .pth.tar file.")
    var paths: [String]
    @Option(name: .customLong("opt"), help: ArgumentHelp(
        "Official checkpoints: an option of opt (KEY=VALUE or KEY:TYPE=VALUE), e.g. data_name=coco_precomp.",
        discussion: "A key of the official opt.py takes that parser's type (int, float, bool, str); another key takes TYPE if given, else reads as a Python literal (integer, float, true/false, else a string). Options the weights decide (sizes, module_name, ...) cannot be given other values."))
    var opt: [String] = []
    @Option(help: "Official checkpoints: the epoch it records (default: net A's round, 0 for a warm-up).")
    var epoch: Int?
    @Flag(name: .customLong("no-opt"),
          help: "Official checkpoints: leave opt out, so torch.load's default weights_only=True loads it (main_MSCN.py --warmup_model_path reads no opt).")
    var noOpt = false

    static let torchSuffixes = [".pth.tar", ".pth", ".pt"]
    var torchOutput: Bool { paths.last.map { out in Self.torchSuffixes.contains { out.hasSuffix($0) } } ?? false }

    func validate() throws {
        guard (2...3).contains(paths.count) else {
            throw ValidationError("give CKPT_A [CKPT_B] OUT.safetensors|OUT.pth.tar (\(paths.count) paths given)")
        }
        // `export a.tzst b.tzst` with the output forgotten would overwrite checkpoint b.
        if let out = paths.last, !out.hasSuffix(".safetensors"), !torchOutput {
            throw ValidationError("the last path is the output and must end in .safetensors or .pth.tar (.pth, .pt), got \(out) (output forgotten?)")
        }
        if !torchOutput, !opt.isEmpty || epoch != nil || noOpt {
            throw ValidationError("--opt, --epoch and --no-opt are for an official checkpoint (.pth.tar)")
        }
        if noOpt, !opt.isEmpty { throw ValidationError("--no-opt leaves opt out: give no --opt") }
        if let epoch, epoch < 0 { throw ValidationError("--epoch must be 0 or more") }
        do { _ = try optionValues() } catch let problem as OfficialOptions.Problem { throw ValidationError(problem.description) }
        try StageOutputs.requireDistinct(paths.enumerated().map { ("path \($0.offset + 1)", $0.element) })
    }

    /// `--opt` values in the types the official opt.py gives them (see OfficialOptions).
    func optionValues() throws -> [(String, TorchSaveWriter.Value)] {
        try opt.map(OfficialOptions.parse)
    }

    func run() throws {
        Stage.run("mscn weights export") {
            let out = paths[paths.count - 1]
            let loaded = try zip(["A", "B"], paths.dropLast()).map { net, path in (net: net, checkpoint: try Checkpoint.load(path)) }
            let models = loaded.map { (net: $0.net, model: $0.checkpoint.model) }
            if torchOutput {
                let round = loaded.first.flatMap { $0.checkpoint.metadata["round"] }.flatMap { Int($0) } ?? 0
                try PyTorchWeights.exportTorch(models, epoch: epoch ?? round, options: noOpt ? nil : try optionValues(), to: out)
            } else {
                try PyTorchWeights.export(models, to: out)
            }
            print("\(out)\tnets \(models.map(\.net).joined(separator: ","))")
        }
    }
}

struct WeightsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read PyTorch weights (safetensors, or an official checkpoint such as model_best.pth.tar) into checkpoints.",
        discussion: """
        The file must hold exactly the reference's state dicts (net_<X>.*, meta_net_<X>.*) for the \
        sizes its shapes imply: no tensor missing or left over, float32 weights, int64 \
        num_batches_tracked. A file written by torch.save (the ZIP format of PyTorch >= 1.6, or the \
        format before it, as older checkpoints are), as the official code saves its checkpoints \
        ({"net_A": state_dict, "meta_net_A": ..., "epoch": ..., "opt": ...}), is read without \
        Python and without running any of its pickle. Writes one checkpoint per \
        net, in the file's order (A, then B); with --net, only that net. The checkpoints have \
        fresh Adam states and dropout stream.

        Checkpoints of the codebases MSCN builds on are read too: NCR's ({"model_A": [img_enc, \
        txt_enc, sim_enc], "model_B": [...]}, nets A and B) and SGRAF's ({"model": [...]}, net A; \
        the authors release SGR and SAF as two files: import each, then evaluate them as nets A \
        and B for SGRAF's ensemble). Their score head sim_enc.sim_eval_w becomes a meta net of \
        --meta-hidden units that gives the same scores (two units carry the head; the rest start \
        fresh with output weight 0), so mscn-evaluate scores them as their own code does.
        """
    )

    @Argument(help: "The .safetensors file, or a torch.save checkpoint (.pth, .pth.tar).") var input: String
    @Argument(help: "Output checkpoint for each net (A, then B).") var outputs: [String]
    @Option(help: "Import only this net (e.g. A or B).") var net: String?
    @Option(name: .customLong("meta-hidden"),
            help: "NCR/SGRAF checkpoints: hidden units of the meta net that carries their score head (at least 2).")
    var metaHidden: Int = 64

    func validate() throws {
        guard !outputs.isEmpty else { throw ValidationError("give an output checkpoint") }
        guard metaHidden >= 2 else { throw ValidationError("--meta-hidden must be at least 2 (two units carry an NCR/SGRAF score head)") }
        if net != nil, outputs.count != 1 { throw ValidationError("--net writes one checkpoint; give one output") }
        try StageOutputs.requireDistinct([("input", input)] + outputs.enumerated().map { ("output \($0.offset + 1)", $0.element) })
    }

    func run() throws {
        Stage.run("mscn weights import") {
            var (models, layout, values) = try PyTorchWeights.load(input, metaHidden: metaHidden)
            if let layout {
                print("\(input): \(layout.rawValue)'s checkpoint layout; its score head sim_eval_w is carried by a meta net of \(metaHidden) hidden units (same scores)")
            }
            // What the training script recorded (the official code's and NCR's epoch and best dev rSum).
            let recorded = ["epoch", "best_rsum"].compactMap { key in values[key].map { (key, $0) } }
            if !recorded.isEmpty { print("\(input): " + recorded.map { "\($0.0) \($0.1)" }.joined(separator: ", ")) }
            if let net {
                models = models.filter { $0.net == net }
                guard !models.isEmpty else { throw StageError("has no net \(net)", path: input) }
            }
            guard models.count == outputs.count else {
                throw StageError("holds nets \(models.map(\.net).joined(separator: ",")): give \(models.count) output checkpoint(s) or --net", path: input)
            }
            try StageOutputs.writeAll(zip(models, outputs).map { m, out in
                (out, { try Checkpoint.save(m.model, to: out, metadata: ["imported_from": (input as NSString).lastPathComponent, "net": m.net]
                                                .merging(recorded.map { ("imported_\($0.0)", $0.1) }) { a, _ in a }) })
            })
            for ((net, model), out) in zip(models, outputs) {
                print("\(out)\tnet \(net)\t\(model.config.variant.rawValue) embed \(model.config.embedDim) sim \(model.config.simDim) vocab \(model.config.vocabSize)")
            }
        }
    }
}
