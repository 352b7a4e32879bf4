import Engine
import Foundation
import MSCNRandom
import TensorFile

/// Checkpoints in the project's tensor-file format.
///
/// Tensor names (under an optional prefix such as `A/`): `net/<reference name>` and
/// `meta/<reference name>` for the weights (so a reference state dict maps one to one),
/// `net/<bn>.running_mean|running_var|num_batches_tracked` for batch-norm buffers,
/// `adam/{net,meta}/<name>.exp_avg|exp_avg_sq|step` for the optimiser states and
/// `rng/dropout` (four state words) for the dropout stream. The `ModelConfig` is stored as JSON
/// in the metadata key `<prefix>model_config`. Writing and reading back continues training
/// bit-identically.
public enum Checkpoint {
    public static let format = "mscn-checkpoint-1"

    /// Every tensor of `model`, names prefixed by `prefix`.
    public static func tensors(of model: Model, prefix: String = "") -> [StoredTensor] {
        var out: [StoredTensor] = []
        for (group, params) in [("net", model.net), ("meta", model.meta)] {
            for n in params.names {
                guard let t = params[n] else { continue }
                out.append(StoredTensor(name: "\(prefix)\(group)/\(n)", shape: t.shape, floats: t.data))
            }
        }
        for n in model.buffers.keys.sorted() {
            guard let b = model.buffers[n] else { continue }
            out.append(StoredTensor(name: "\(prefix)net/\(n).running_mean", shape: [b.runningMean.count], floats: b.runningMean))
            out.append(StoredTensor(name: "\(prefix)net/\(n).running_var", shape: [b.runningVar.count], floats: b.runningVar))
            out.append(StoredTensor(name: "\(prefix)net/\(n).num_batches_tracked", shape: [], int64s: [Int64(b.numBatchesTracked)]))
        }
        for (group, adam, params) in [("net", model.netAdam, model.net), ("meta", model.metaAdam, model.meta)] {
            for n in params.names {
                guard let m = adam.m[n], let v = adam.v[n], let s = adam.steps[n] else { continue }
                let base = "\(prefix)adam/\(group)/\(n)"
                out.append(StoredTensor(name: base + ".exp_avg", shape: [m.count], floats: m))
                out.append(StoredTensor(name: base + ".exp_avg_sq", shape: [v.count], floats: v))
                out.append(StoredTensor(name: base + ".step", shape: [], int64s: [Int64(s)]))
            }
        }
        out.append(StoredTensor(name: "\(prefix)rng/dropout", shape: [4],
                                int64s: model.dropoutGenerator.stateWords.map { Int64(bitPattern: $0) }))
        return out
    }

    /// The metadata entries describing `model` (its config as JSON).
    public static func metadata(of model: Model, prefix: String = "") throws -> [String: String] {
        // Sorted keys: Foundation's encoder orders keys differently run to run, and checkpoints must be bit-identical.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(model.config)
        return ["\(prefix)model_config": String(decoding: data, as: UTF8.self), "format": format]
    }

    /// Rebuilds a model from tensors and metadata written by `tensors(of:)` / `metadata(of:)`.
    /// `path` only names the file in errors.
    public static func model(tensors: [String: StoredTensor], metadata: [String: String], prefix: String = "",
                             path: String, similarity: SimilarityBackend? = nil) throws -> Model {
        guard let json = metadata["\(prefix)model_config"] else {
            throw TensorFileError(path, "no '\(prefix)model_config' metadata: not an MSCN checkpoint")
        }
        // A later format may lay its tensors out otherwise; reading it as this one would be a guess.
        if let written = metadata["format"], written.hasPrefix("mscn-checkpoint-"), written != format {
            throw TensorFileError(path, "is a \(written) checkpoint; this build reads \(format)")
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
            throw TensorFileError(path, "'\(prefix)model_config' is not a valid model configuration (\(error))")
        }
        if let problem = config.problems.first {
            throw TensorFileError(path, "'\(prefix)model_config' cannot build a model: \(problem)")
        }
        // Every tensor under the prefix must be read: a left-over one means another configuration
        // or a damaged file, and ignoring it would load a different model than was saved.
        var used = Set<String>()
        func floats(_ name: String, count: Int) throws -> [Float] {
            guard let t = tensors[prefix + name] else { throw TensorFileError(path, "missing tensor \(prefix)\(name)") }
            used.insert(prefix + name)
            let v = try t.floats()
            guard v.count == count else { throw TensorFileError(path, "\(prefix)\(name) has \(v.count) values, expected \(count)") }
            if let bad = v.first(where: { !$0.isFinite }) {
                throw TensorFileError(path, "\(prefix)\(name) holds \(bad): a diverged or damaged checkpoint")
            }
            return v
        }
        func int(_ name: String) throws -> Int {
            guard let t = tensors[prefix + name], let v = try t.ints().first else { throw TensorFileError(path, "missing tensor \(prefix)\(name)") }
            used.insert(prefix + name)
            return v
        }
        var g = SeededGenerator(seed: 0)
        var net = ParameterLayout.initialNet(config, using: &g)
        var meta = ParameterLayout.initialMeta(config, using: &g)
        var buffers = ParameterLayout.initialBuffers(config)
        for n in net.names {
            guard let t = net[n] else { continue }
            net.setData(n, try floats("net/\(n)", count: t.count))
            guard tensors[prefix + "net/\(n)"]?.shape == t.shape else { throw TensorFileError(path, "\(prefix)net/\(n) has the wrong shape") }
        }
        for n in meta.names {
            guard let t = meta[n] else { continue }
            meta.setData(n, try floats("meta/\(n)", count: t.count))
            guard tensors[prefix + "meta/\(n)"]?.shape == t.shape else { throw TensorFileError(path, "\(prefix)meta/\(n) has the wrong shape") }
        }
        for (n, b) in buffers {
            var nb = b
            nb.runningMean = try floats("net/\(n).running_mean", count: b.runningMean.count)
            nb.runningVar = try floats("net/\(n).running_var", count: b.runningVar.count)
            nb.numBatchesTracked = try int("net/\(n).num_batches_tracked")
            buffers[n] = nb
        }
        func adam(_ group: String, _ params: NamedTensors) throws -> Adam {
            var a = Adam()
            for n in params.names {
                let base = "adam/\(group)/\(n)"
                guard tensors[prefix + base + ".step"] != nil, let count = params[n]?.count else { continue }
                a.m[n] = try floats(base + ".exp_avg", count: count)
                a.v[n] = try floats(base + ".exp_avg_sq", count: count)
                a.steps[n] = try int(base + ".step")
            }
            return a
        }
        guard let words = try tensors[prefix + "rng/dropout"]?.int64s(),
              let rng = SeededGenerator(stateWords: words.map { UInt64(bitPattern: $0) }) else {
            throw TensorFileError(path, "missing or invalid \(prefix)rng/dropout")
        }
        used.insert(prefix + "rng/dropout")
        let model = Model(config: config, net: net, meta: meta, buffers: buffers, dropoutGenerator: rng, similarity: similarity)
        model.netAdam = try adam("net", net)
        model.metaAdam = try adam("meta", meta)
        let unexpected = tensors.keys.filter { $0.hasPrefix(prefix) && !used.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw TensorFileError(path, "tensors this model configuration does not have: \(PyTorchWeights.someOf(unexpected))")
        }
        return model
    }

    /// Writes one model to `path` (atomically), with extra metadata.
    /// A model whose weights went NaN or infinite (training diverged) is not written: it would
    /// look like a finished checkpoint and score every pair alike.
    public static func save(_ model: Model, to path: String, metadata extra: [String: String] = [:]) throws {
        let stored = tensors(of: model)
        for t in stored where t.dtype == .f32 {
            if let bad = try t.floats().first(where: { !$0.isFinite }) {
                throw TensorFileError(path, "not written: \(t.name) holds \(bad) (training diverged; a lower --lr or a smaller --grad-clip may hold it)")
            }
        }
        try TensorFiles.write(path, stored, metadata: metadata(of: model).merging(extra) { a, _ in a })
    }

    /// Reads a model written by `save`.
    public static func load(_ path: String, similarity: SimilarityBackend? = nil) throws -> (model: Model, metadata: [String: String]) {
        let (meta, tensors) = try TensorFiles.readAll(path)
        return (try model(tensors: tensors, metadata: meta, path: path, similarity: similarity), meta)
    }
}
