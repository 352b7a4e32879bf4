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
        abstract: "Exchange weights with PyTorch (safetensors in the reference's state-dict names).",
        subcommands: [WeightsExport.self, WeightsImport.self]
    )
}

struct WeightsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the weights of one or two checkpoints (nets A and B) as a safetensors file.",
        discussion: """
        Tensors are named as the reference's checkpoint: net_A.<SGRAF state_dict name>, \
        meta_net_A.<Meta_Sim state_dict name>, and net_B.*, meta_net_B.* for a second checkpoint; \
        float32 weights and running statistics, int64 num_batches_tracked. The header metadata holds \
        the model configuration (model_config.<net>) and the reference's options (reference_opt.<net>). \
        Adam moments and the dropout stream are not exported.
        """
    )

    @Argument(help: "Checkpoint of net A, optionally net B's, then the output .safetensors file.")
    var paths: [String]

    func validate() throws {
        guard (2...3).contains(paths.count) else {
            throw ValidationError("give CKPT_A [CKPT_B] OUT.safetensors (\(paths.count) paths given)")
        }
        // `export a.tzst b.tzst` with the output forgotten would overwrite checkpoint b.
        if let out = paths.last, !out.hasSuffix(".safetensors") {
            throw ValidationError("the last path is the output and must end in .safetensors, got \(out) (output forgotten?)")
        }
        try StageOutputs.requireDistinct(paths.enumerated().map { ("path \($0.offset + 1)", $0.element) })
    }

    func run() throws {
        Stage.run("mscn weights export") {
            let out = paths[paths.count - 1]
            let models = try zip(["A", "B"], paths.dropLast()).map { net, path in (net: net, model: try Checkpoint.load(path).model) }
            try PyTorchWeights.export(models, to: out)
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
            var (models, layout) = try PyTorchWeights.load(input, metaHidden: metaHidden)
            if let layout {
                print("\(input): \(layout.rawValue)'s checkpoint layout; its score head sim_eval_w is carried by a meta net of \(metaHidden) hidden units (same scores)")
            }
            if let net {
                models = models.filter { $0.net == net }
                guard !models.isEmpty else { throw StageError("has no net \(net)", path: input) }
            }
            guard models.count == outputs.count else {
                throw StageError("holds nets \(models.map(\.net).joined(separator: ",")): give \(models.count) output checkpoint(s) or --net", path: input)
            }
            try StageOutputs.writeAll(zip(models, outputs).map { m, out in
                (out, { try Checkpoint.save(m.model, to: out, metadata: ["imported_from": (input as NSString).lastPathComponent, "net": m.net]) })
            })
            for ((net, model), out) in zip(models, outputs) {
                print("\(out)\tnet \(net)\t\(model.config.variant.rawValue) embed \(model.config.embedDim) sim \(model.config.simDim) vocab \(model.config.vocabSize)")
            }
        }
    }
}
