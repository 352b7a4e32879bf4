import Engine
import Foundation
import MSCNRandom
import TensorFile

/// Weights as the reference's PyTorch state dicts, flattened into one safetensors file.
///
/// The reference saves `{"net_A": SGRAF.state_dict(), "meta_net_A": Meta_Sim.state_dict(),
/// "net_B": …, "meta_net_B": …}`; here each entry is `<key>.<state_dict name>` (e.g.
/// `net_A.img_enc.fc.weight`, `meta_net_B.output_layer.bias`): weights and running statistics
/// float32, `num_batches_tracked` int64 scalars, shapes as PyTorch stores them. Header
/// metadata: `format`, `nets` ("A" or "A,B"), and per net `model_config.<net>` (this project's
/// configuration, JSON) and `reference_opt.<net>` (the reference's option names, JSON).
/// Adam moments and the dropout stream do not travel (the reference's state dicts have neither).
public enum PyTorchWeights {
    public static let format = "mscn-weights-1"

    /// `net_<net>` and `meta_net_<net>`, the reference checkpoint's keys.
    public static func keys(_ net: String) -> (net: String, meta: String) { ("net_\(net)", "meta_net_\(net)") }

    /// The state-dict tensors of `model` as net `net` ("A" or "B").
    public static func tensors(of model: Model, net: String) -> [StoredTensor] {
        let (nk, mk) = keys(net)
        var out: [StoredTensor] = []
        for n in model.net.names {
            guard let t = model.net[n] else { continue }
            out.append(StoredTensor(name: "\(nk).\(n)", shape: t.shape, floats: t.data))
        }
        // Sorted: a dictionary's order changes run to run, and exports must be bit-identical.
        for (n, b) in model.buffers.sorted(by: { $0.key < $1.key }) {
            out.append(StoredTensor(name: "\(nk).\(n).running_mean", shape: [b.runningMean.count], floats: b.runningMean))
            out.append(StoredTensor(name: "\(nk).\(n).running_var", shape: [b.runningVar.count], floats: b.runningVar))
            out.append(StoredTensor(name: "\(nk).\(n).num_batches_tracked", shape: [], int64s: [Int64(b.numBatchesTracked)]))
        }
        for n in model.meta.names {
            guard let t = model.meta[n] else { continue }
            out.append(StoredTensor(name: "\(mk).\(n)", shape: t.shape, floats: t.data))
        }
        return out
    }

    /// Header metadata for `models` (net name, model) in order.
    public static func metadata(_ models: [(net: String, model: Model)]) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var m = ["format": format, "nets": models.map(\.net).joined(separator: ",")]
        for (net, model) in models {
            m["model_config.\(net)"] = String(decoding: try encoder.encode(model.config), as: UTF8.self)
            m["reference_opt.\(net)"] = String(decoding: try encoder.encode(ReferenceOptions(model.config)), as: UTF8.self)
        }
        return m
    }

    /// Writes `models` to a safetensors file.
    public static func export(_ models: [(net: String, model: Model)], to path: String) throws {
        try Safetensors.write(path, models.flatMap { tensors(of: $0.model, net: $0.net) }, metadata: try metadata(models))
    }

    /// Writes `models` as the official code's own checkpoint (`torch.save` of `{"epoch", "net_A",
    /// "meta_net_A", "net_B", "meta_net_B", "opt"}`, as `main_MSCN.py` saves it), which its
    /// `--warmup_model_path` and `evaluation_meta.evalrank` load. `opt` is an `argparse.Namespace`
    /// of the reference's model options for net A's configuration, plus `options` (e.g.
    /// `data_name`), which override them; nil leaves `opt` out (then `torch.load` with
    /// `weights_only=True` reads the file).
    public static func exportTorch(_ models: [(net: String, model: Model)], epoch: Int, options: [(String, TorchSaveWriter.Value)]?,
                                   to path: String) throws {
        var top: [(String, TorchSaveWriter.Value)] = [("epoch", .int(epoch))]
        for (net, model) in models {
            let (nk, mk) = keys(net)
            let all = tensors(of: model, net: net)
            func stateDict(_ key: String) -> TorchSaveWriter.Value {
                .stateDict(all.filter { $0.name.hasPrefix(key + ".") }.map { t in
                    var local = t
                    local.name = String(t.name.dropFirst(key.count + 1))
                    return local
                })
            }
            top += [(nk, stateDict(nk)), (mk, stateDict(mk))]
        }
        guard let options else { return try TorchSaveWriter.write(path, top) }
        let opt = try OfficialOptions.namespace(for: models.map(\.model.config), overrides: options)
        top.append(("opt", .namespace(opt)))
        try TorchSaveWriter.write(path, top)
    }

    /// The nets in a safetensors file: those listed in `nets`, else every `net_<X>` present.
    public static func nets(in tensors: [String: StoredTensor], metadata: [String: String]) -> [String] {
        if let listed = metadata["nets"] { return listed.split(separator: ",").map(String.init) }
        let found = Set(tensors.keys.compactMap { name -> String? in
            guard name.hasPrefix("net_"), let dot = name.firstIndex(of: ".") else { return nil }
            return String(name[name.index(name.startIndex, offsetBy: 4)..<dot])
        })
        return found.sorted()
    }

    /// Reads a safetensors file into one model per net. Names, shapes and dtypes must be
    /// exactly those of the reference state dicts for the sizes the shapes imply (as
    /// `load_state_dict(strict=True)`); `model_config.<net>` metadata, when present, must agree
    /// with them and supplies the non-size options (dropout, margin, quirks).
    /// A file written by `torch.save` (the official code's `model_best.pth.tar`) is read the same
    /// way: its `net_<X>` and `meta_net_<X>` state dicts are the tensors, without metadata. So is
    /// a checkpoint of NCR or SGRAF (`ForeignCheckpoint`), its score head carried by a meta net of
    /// `metaHidden` units; `layout` says which it was (nil: the reference's own names), and
    /// `values` holds a `torch.save` file's top-level numbers and strings (`epoch`, `best_rsum`).
    public static func load(_ path: String, metaHidden: Int = 64) throws
        -> (models: [(net: String, model: Model)], layout: ForeignCheckpoint.Layout?, values: [String: String]) {
        var values: [String: String] = [:]
        let metadata: [String: String], stored: [StoredTensor]
        if TorchSave.isTorchSave(path) {
            let contents = try TorchSave.read(path)
            (metadata, stored, values) = ([:], contents.tensors, contents.values)
        } else {
            (metadata, stored) = try Safetensors.read(path)
        }
        var tensors: [String: StoredTensor] = [:]
        for t in stored { tensors[t.name] = t }
        let layout = ForeignCheckpoint.layout(of: tensors.keys)
        if let layout {
            tensors = try ForeignCheckpoint.translate(tensors, layout: layout, metaHidden: metaHidden, path: path)
        }
        return (try load(tensors, metadata: metadata, path: path), layout, values)
    }

    private static func load(_ tensors: [String: StoredTensor], metadata: [String: String],
                             path: String) throws -> [(net: String, model: Model)] {
        let nets = nets(in: tensors, metadata: metadata)
        guard !nets.isEmpty else { throw TensorFileError(path, "no net_<X>.* tensors (the official MSCN code's names) and no model_A/model_B or model lists of state dicts (NCR's, SGRAF's): not weights of these models") }
        var claimed = Set<String>()
        var models: [(String, Model)] = []
        for net in nets {
            let (model, used) = try load(net: net, tensors: tensors, metadata: metadata, path: path)
            claimed.formUnion(used)
            models.append((net, model))
        }
        let unexpected = tensors.keys.filter { !claimed.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw TensorFileError(path, "unexpected tensors (not in the reference state dicts of nets \(nets.joined(separator: ","))): \(someOf(unexpected))")
        }
        return models
    }

    /// The first five of `names`, and how many more: the refusals of left-over tensors name them so.
    static func someOf(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
    }

    private static func load(net: String, tensors: [String: StoredTensor], metadata: [String: String],
                             path: String) throws -> (Model, Set<String>) {
        let (nk, mk) = keys(net)
        func shape(_ name: String, rank: Int) throws -> [Int] {
            guard let t = tensors[name] else { throw TensorFileError(path, "missing tensor \(name)") }
            guard t.shape.count == rank else { throw TensorFileError(path, "\(name) has shape \(t.shape), expected rank \(rank)") }
            return t.shape
        }
        // Sizes from the shapes, as the reference's options would have made them.
        let fc = try shape("\(nk).img_enc.fc.weight", rank: 2)
        let embed = try shape("\(nk).txt_enc.embed.weight", rank: 2)
        let loc = try shape("\(nk).sim_enc.sim_tranloc_w.weight", rank: 2)
        let regions = try shape("\(nk).sim_enc.v_global_w.embedding_local.1.weight", rank: 1)
        let hidden = try shape("\(mk).first_hidden_layer.fc.weight", rank: 2)
        var c = ModelConfig(imageDim: fc[1], embedDim: fc[0], wordDim: embed[1], simDim: loc[0], vocabSize: embed[0],
                            variant: .sgr, metaHidden: hidden[0], regions: regions[0])
        let sgr = Set(tensors.keys.compactMap { n -> Int? in
            let p = "\(nk).sim_enc.SGR_module."
            guard n.hasPrefix(p) else { return nil }
            return Int(n.dropFirst(p.count).prefix { $0 != "." })
        })
        let saf = tensors.keys.contains { $0.hasPrefix("\(nk).sim_enc.SAF_module.") }
        switch (sgr.isEmpty, saf) {
        case (false, false): c.sgrSteps = sgr.count
        case (true, true): c.variant = .saf
        case (true, false): throw TensorFileError(path, "\(nk) has neither sim_enc.SGR_module.* nor sim_enc.SAF_module.* tensors")
        case (false, true): throw TensorFileError(path, "\(nk) has both sim_enc.SGR_module.* and sim_enc.SAF_module.* tensors")
        }
        if let json = metadata["model_config.\(net)"] {
            let given: ModelConfig
            do { given = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                throw TensorFileError(path, "model_config.\(net) metadata is not a model configuration (\(error))")
            }
            var sizes = given
            sizes.dropout = c.dropout; sizes.margin = c.margin; sizes.gradClip = c.gradClip
            sizes.bnMomentum = c.bnMomentum; sizes.bnEps = c.bnEps; sizes.meta = c.meta
            guard sizes == c else {
                throw TensorFileError(path, "model_config.\(net) metadata disagrees with the tensor shapes (shapes imply \(describe(c)), metadata says \(describe(given)))")
            }
            c = given
        }
        if let problem = c.problems.first { throw TensorFileError(path, "net \(net) cannot build a model: \(problem)") }

        var g = SeededGenerator(seed: 0)
        var netParams = ParameterLayout.initialNet(c, using: &g)
        var metaParams = ParameterLayout.initialMeta(c, using: &g)
        var buffers = ParameterLayout.initialBuffers(c)
        var used = Set<String>()
        func take(_ name: String, _ expected: [Int], _ dtype: DType) throws -> StoredTensor {
            guard let t = tensors[name] else { throw TensorFileError(path, "missing tensor \(name)") }
            guard t.dtype == dtype else { throw TensorFileError(path, "\(name) is \(t.dtype.rawValue), the reference stores \(dtype.rawValue)") }
            guard t.shape == expected else { throw TensorFileError(path, "\(name) has shape \(t.shape), expected \(expected)") }
            if dtype == .f32, let bad = try t.floats().first(where: { !$0.isFinite }) {
                throw TensorFileError(path, "\(name) holds \(bad): weights must be finite")
            }
            used.insert(name)
            return t
        }
        for n in netParams.names {
            guard let t = netParams[n] else { continue }
            netParams.setData(n, try take("\(nk).\(n)", t.shape, .f32).floats())
        }
        for n in metaParams.names {
            guard let t = metaParams[n] else { continue }
            metaParams.setData(n, try take("\(mk).\(n)", t.shape, .f32).floats())
        }
        for (n, b) in buffers {
            var nb = b
            nb.runningMean = try take("\(nk).\(n).running_mean", [b.runningMean.count], .f32).floats()
            nb.runningVar = try take("\(nk).\(n).running_var", [b.runningVar.count], .f32).floats()
            guard let count = try take("\(nk).\(n).num_batches_tracked", [], .i64).int64s().first, count >= 0 else {
                throw TensorFileError(path, "\(nk).\(n).num_batches_tracked is negative")
            }
            nb.numBatchesTracked = Int(count)
            buffers[n] = nb
        }
        let model = Model(config: c, net: netParams, meta: metaParams, buffers: buffers, dropoutGenerator: SeededGenerator(seed: 0))
        return (model, used)
    }

    private static func describe(_ c: ModelConfig) -> String {
        "image \(c.imageDim), embed \(c.embedDim), word \(c.wordDim), sim \(c.simDim), vocab \(c.vocabSize), "
            + "\(c.variant.rawValue)\(c.variant == .sgr ? " \(c.sgrSteps) steps" : ""), meta hidden \(c.metaHidden), regions \(c.regions)"
    }
}

/// The reference's option names for a configuration (`opt.img_dim`, …), so a Python script
/// can build the official `SGRAF(opt)` and `Meta_Sim` from the header alone.
struct ReferenceOptions: Encodable {
    var img_dim, embed_size, word_dim, sim_dim, vocab_size, sgr_step, num_layers, meta_hidden: Int
    var module_name: String
    var bi_gru = true, no_imgnorm = false, no_txtnorm = false
    var margin: Float

    init(_ c: ModelConfig) {
        img_dim = c.imageDim; embed_size = c.embedDim; word_dim = c.wordDim; sim_dim = c.simDim
        vocab_size = c.vocabSize; sgr_step = c.sgrSteps; num_layers = 1; meta_hidden = c.metaHidden
        module_name = c.variant.rawValue.uppercased()
        margin = c.margin
    }
}
