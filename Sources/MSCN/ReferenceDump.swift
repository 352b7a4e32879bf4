import Engine
import Foundation
import MSCNRandom
import TensorFile

/// A folder of tensors dumped by the Python reference: `manifest.json` (config and, per
/// tensor, file/shape/dtype) and one `.npy` per tensor (`/` in names replaced by `__`).
/// Also the importer for weights trained with the reference.
public struct ReferenceDump {
    public let directory: String
    public let mode: String
    public let settings: [String: Any]
    public let entries: [String: (file: String, shape: [Int])]

    public init(directory: String) throws {
        self.directory = directory
        let path = (directory as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TensorFileError(path, FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let cfg = root["config"] as? [String: Any], let tensors = root["tensors"] as? [String: Any] else {
            throw TensorFileError(path, "not a reference manifest (needs 'config' and 'tensors' objects)")
        }
        mode = root["mode"] as? String ?? "eval"
        settings = cfg.merging(root.filter { $0.key != "config" && $0.key != "tensors" }) { a, _ in a }
        var e: [String: (String, [Int])] = [:]
        for (name, v) in tensors {
            guard let d = v as? [String: Any], let file = d["file"] as? String, let shape = d["shape"] as? [Int] else {
                throw TensorFileError(path, "tensor '\(name)' has no file/shape")
            }
            e[name] = (file, shape)
        }
        entries = e
    }

    public func has(_ name: String) -> Bool { entries[name] != nil }

    /// Names starting with `prefix`, with the prefix removed, sorted.
    public func names(under prefix: String) -> [String] {
        entries.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    public func stored(_ name: String) throws -> StoredTensor {
        guard let e = entries[name] else { throw TensorFileError(directory, "manifest lists no tensor '\(name)'") }
        let path = (directory as NSString).appendingPathComponent(e.file)
        let t = try NPY.read(path, name: name)
        guard t.shape == e.shape else { throw TensorFileError(path, "shape \(t.shape), manifest says \(e.shape)") }
        return t
    }

    public func tensor(_ name: String) throws -> Tensor {
        let s = try stored(name)
        let data: [Float]
        switch s.dtype {
        case .f32: data = try s.floats()
        case .f64: data = try s.doubles().map { Float($0) }
        default: data = try s.ints().map { Float($0) }
        }
        return Tensor(shape: s.shape, data: data)
    }

    public func ints(_ name: String) throws -> [Int] { try stored(name).ints() }

    func int(_ key: String) throws -> Int {
        if let v = settings[key] as? Int { return v }
        if let v = settings[key] as? Double, v == v.rounded() { return Int(v) }
        throw TensorFileError(directory, "manifest config has no integer '\(key)'")
    }

    public func float(_ key: String) throws -> Float {
        if let v = settings[key] as? Double { return Float(v) }
        if let v = settings[key] as? Int { return Float(v) }
        throw TensorFileError(directory, "manifest config has no number '\(key)'")
    }

    /// The model configuration the dump was made with. Dropout defaults to 0 (the parity
    /// dumps are deterministic); pass 0.4 to train imported weights as the reference does.
    public func config(dropout: Float = 0) throws -> ModelConfig {
        let module = (settings["module"] as? String ?? "").lowercased()
        guard let variant = SimilarityVariant(rawValue: module) else {
            throw TensorFileError(directory, "manifest config has module '\(module)', expected SGR or SAF")
        }
        var c = ModelConfig(imageDim: try int("img_dim"), embedDim: try int("embed"), wordDim: try int("word_dim"),
                            simDim: try int("sim_dim"), vocabSize: try int("vocab"), variant: variant,
                            metaHidden: try int("meta_hidden"), regions: try int("regions"))
        if settings["sgr_step"] != nil { c.sgrSteps = try int("sgr_step") }
        if settings["margin"] != nil { c.margin = try float("margin") }
        if settings["grad_clip"] != nil { c.gradClip = try float("grad_clip") }
        if settings["bn_eps"] != nil { c.bnEps = try float("bn_eps") }
        if settings["bn_momentum"] != nil { c.bnMomentum = try float("bn_momentum") }
        c.dropout = dropout
        if let problem = c.problems.first { throw TensorFileError(directory, "manifest config cannot build a model: \(problem)") }
        return c
    }

    /// Loads `<prefix><name>` for every parameter the config needs, checking shapes.
    public func parameters(_ expected: NamedTensors, prefix: String) throws -> NamedTensors {
        var r = NamedTensors()
        for n in expected.names {
            let t = try tensor(prefix + n)
            guard t.shape == expected[n]?.shape else {
                throw TensorFileError(directory, "\(prefix)\(n) has shape \(t.shape), the config needs \(expected[n]?.shape ?? [])")
            }
            r[n] = t
        }
        return r
    }

    /// Batch-norm buffers `<prefix><bn>.running_mean/.running_var/.num_batches_tracked`.
    public func buffers(_ c: ModelConfig, prefix: String) throws -> [String: BatchNormBuffers] {
        var r: [String: BatchNormBuffers] = [:]
        for (n, ch) in ParameterLayout.batchNorms(c) {
            var b = BatchNormBuffers(channels: ch, momentum: c.bnMomentum, eps: c.bnEps)
            b.runningMean = try tensor(prefix + n + ".running_mean").data
            b.runningVar = try tensor(prefix + n + ".running_var").data
            guard b.runningMean.count == ch, b.runningVar.count == ch else {
                throw TensorFileError(directory, "\(prefix)\(n) running stats do not have \(ch) channels")
            }
            b.numBatchesTracked = try ints(prefix + n + ".num_batches_tracked").first ?? 0
            r[n] = b
        }
        return r
    }

    /// A model holding the dump's `param/net/…`, `param/meta/…` and buffers.
    public func model(similarity: SimilarityBackend? = nil, dropout: Float = 0) throws -> Model {
        let c = try config(dropout: dropout)
        var g = SeededGenerator(seed: 0)
        let net = try parameters(ParameterLayout.initialNet(c, using: &g), prefix: "param/net/")
        let meta = try parameters(ParameterLayout.initialMeta(c, using: &g), prefix: "param/meta/")
        let buf = try buffers(c, prefix: "param/net/")
        return Model(config: c, net: net, meta: meta, buffers: buf, dropoutGenerator: SeededGenerator(seed: 0), similarity: similarity)
    }

    /// Images and captions of a batch stored as `<prefix>images/captions/lengths`.
    public func batch(_ c: ModelConfig, images: String, captions: String, lengths: String) throws -> PairBatch {
        let im = try tensor(images)
        guard im.shape.count == 3, im.shape[1] == c.regions, im.shape[2] == c.imageDim else {
            throw TensorFileError(directory, "\(images) has shape \(im.shape), expected [B, \(c.regions), \(c.imageDim)]")
        }
        let ids = try ints(captions), lens = try ints(lengths)
        let capShape = entries[captions]?.shape ?? []
        guard capShape.count == 2, capShape[0] == im.shape[0], lens.count == im.shape[0] else {
            throw TensorFileError(directory, "\(captions)/\(lengths) do not match \(im.shape[0]) images")
        }
        let l = capShape[1]
        var tokens: [[Int32]] = []
        for (i, n) in lens.enumerated() {
            guard n >= 1, n <= l else { throw TensorFileError(directory, "\(lengths)[\(i)] = \(n) outside 1...\(l)") }
            let row = ids[(i * l)..<(i * l + n)]
            guard row.allSatisfy({ $0 >= 0 && $0 < c.vocabSize }) else {
                throw TensorFileError(directory, "\(captions) row \(i) has ids outside the vocabulary of \(c.vocabSize)")
            }
            tokens.append(row.map { Int32($0) })
        }
        return PairBatch(images: ImageBatch(features: im.data, count: im.shape[0], regions: c.regions, dim: c.imageDim),
                         captions: CaptionBatch(tokens: tokens))
    }
}
