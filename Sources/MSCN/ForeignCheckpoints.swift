import Engine
import MSCNRandom
import TensorFile

/// Checkpoints of the two codebases MSCN is built on, renamed into the reference's state-dict
/// names so `PyTorchWeights` can load them like the official code's own:
///
/// - NCR (`co_train.py`): `{"model_A": [img_enc, txt_enc, sim_enc], "model_B": [...], ...}`;
/// - SGRAF (`train.py`): `{"model": [img_enc, txt_enc, sim_enc], ...}`, one net (the authors
///   release their SGR and SAF models as two such files).
///
/// Their backbone is MSCN's parameter for parameter. Their score is `sigmoid(sim_eval_w · v + b)`,
/// where MSCN scores with its meta net `sigmoid(W₂ relu(W₁ v + b₁) + b₂)`. The head becomes a
/// meta net that computes the same score: hidden unit 0 is `relu(w · v)`, unit 1 `relu(-w · v)`,
/// the output `b + unit 0 - unit 1`; the other hidden units start as a fresh meta net's and have
/// output weight 0, so they add exact zeros until training moves them.
public enum ForeignCheckpoint {
    public enum Layout: String {
        case ncr = "NCR"
        case sgraf = "SGRAF"
    }

    /// The layout of a file's tensor names (after `TorchSave`'s `<key>.<i>.<name>` flattening),
    /// or nil for anything else.
    public static func layout(of names: some Collection<String>) -> Layout? {
        if names.contains(where: { $0.hasPrefix("net_") }) { return nil }
        if names.contains(where: { $0.hasPrefix("model_A.0.") || $0.hasPrefix("model_B.0.") }) { return .ncr }
        if names.contains(where: { $0.hasPrefix("model.0.") }) { return .sgraf }
        return nil
    }

    static let parts = ["img_enc", "txt_enc", "sim_enc"]

    /// The tensors under the reference's names (`net_<X>.*`, `meta_net_<X>.*`), with the score
    /// head as a meta net of `metaHidden` units (≥ 2).
    public static func translate(_ tensors: [String: StoredTensor], layout: Layout, metaHidden: Int,
                                 path: String) throws -> [String: StoredTensor] {
        guard metaHidden >= 2 else {
            throw TensorFileError(path, "a meta net of \(metaHidden) hidden unit(s) cannot carry the \(layout.rawValue) score head (needs at least 2)")
        }
        let sources: [(key: String, net: String)] = layout == .ncr ? [("model_A", "A"), ("model_B", "B")] : [("model", "A")]
        var out: [String: StoredTensor] = [:]
        var claimed = Set<String>()
        for (key, net) in sources where tensors.keys.contains(where: { $0.hasPrefix(key + ".") }) {
            let (nk, mk) = PyTorchWeights.keys(net)
            for (name, t) in tensors where name.hasPrefix(key + ".") {
                let rest = name.dropFirst(key.count + 1)
                guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), parts.indices.contains(index) else {
                    throw TensorFileError(path, "\(name): \(key) should be a list of the three state dicts [img_enc, txt_enc, sim_enc]")
                }
                let local = rest[rest.index(after: dot)...]
                if index == 2, local.hasPrefix("sim_eval_w.") { continue }
                var renamed = t
                renamed.name = "\(nk).\(parts[index]).\(local)"
                out[renamed.name] = renamed
                claimed.insert(name)
            }
            // PyTorch before 0.4.1 kept no batch counter; a missing one reads as 0 as PyTorch's own loader does.
            for name in out.keys where name.hasPrefix(nk + ".") && name.hasSuffix(".running_mean") {
                let counter = String(name.dropLast(".running_mean".count)) + ".num_batches_tracked"
                if out[counter] == nil { out[counter] = StoredTensor(name: counter, shape: [], int64s: [0]) }
            }
            let headW = "\(key).2.sim_eval_w.weight", headB = "\(key).2.sim_eval_w.bias"
            guard let w = tensors[headW], let b = tensors[headB] else {
                throw TensorFileError(path, "missing the score head \(headW) / \(headB)")
            }
            guard w.dtype == .f32, w.shape.count == 2, w.shape[0] == 1, b.dtype == .f32, b.shape == [1] else {
                throw TensorFileError(path, "\(headW) \(w.shape) and \(headB) \(b.shape) are not a float32 Linear(sim_dim, 1)")
            }
            claimed.formUnion([headW, headB])
            for t in metaNet(head: try w.floats(), bias: try b.floats()[0], hidden: metaHidden) {
                var named = t
                named.name = "\(mk).\(t.name)"
                out[named.name] = named
            }
        }
        let unclaimed = tensors.keys.filter { !claimed.contains($0) }.sorted()
        guard unclaimed.isEmpty else {
            throw TensorFileError(path, "tensors outside the \(layout.rawValue) layout's model state dicts: \(PyTorchWeights.someOf(unclaimed))")
        }
        return out
    }

    /// A meta net whose score equals `sigmoid(head · v + bias)` for every similarity vector v.
    static func metaNet(head: [Float], bias: Float, hidden: Int) -> [StoredTensor] {
        let s = head.count
        var config = ModelConfig(imageDim: 1, embedDim: 1, wordDim: 1, simDim: s, vocabSize: 1, variant: .sgr)
        config.metaHidden = hidden
        var g = SeededGenerator(seed: 0)
        let fresh = ParameterLayout.initialMeta(config, using: &g)
        var w1 = fresh["first_hidden_layer.fc.weight"]?.data ?? [Float](repeating: 0, count: hidden * s)
        var b1 = fresh["first_hidden_layer.fc.bias"]?.data ?? [Float](repeating: 0, count: hidden)
        for k in 0..<s {
            w1[k] = head[k]
            w1[s + k] = -head[k]
        }
        b1[0] = 0
        b1[1] = 0
        var w2 = [Float](repeating: 0, count: hidden)
        w2[0] = 1
        w2[1] = -1
        return [
            StoredTensor(name: "first_hidden_layer.fc.weight", shape: [hidden, s], floats: w1),
            StoredTensor(name: "first_hidden_layer.fc.bias", shape: [hidden], floats: b1),
            StoredTensor(name: "output_layer.weight", shape: [1, hidden], floats: w2),
            StoredTensor(name: "output_layer.bias", shape: [1], floats: [bias]),
        ]
    }
}
