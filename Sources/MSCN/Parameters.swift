import Engine
import MSCNRandom

/// Named tensors in a fixed order (the reference's module paths, e.g. `img_enc.fc.weight`).
public struct NamedTensors: Equatable, Sendable {
    public private(set) var names: [String] = []
    public private(set) var tensors: [String: Tensor] = [:]

    public init() {}

    public subscript(_ name: String) -> Tensor? {
        get { tensors[name] }
        set {
            if let newValue {
                if tensors[name] == nil { names.append(name) }
                tensors[name] = newValue
            } else if tensors[name] != nil {
                names.removeAll { $0 == name }
                tensors[name] = nil
            }
        }
    }

    /// Sets the values of an existing tensor (shape unchanged).
    public mutating func setData(_ name: String, _ data: [Float]) {
        guard let t = tensors[name] else { preconditionFailure("no tensor \(name)") }
        tensors[name] = Tensor(shape: t.shape, data: data)
    }

    /// `self + alpha · other` over the names of `other` (other names unchanged).
    public func adding(_ other: [String: [Float]], scaledBy alpha: Float) -> NamedTensors {
        var r = self
        for (name, d) in other {
            guard let t = tensors[name] else { continue }
            var v = t.data
            for i in v.indices { v[i] += alpha * d[i] }
            r.tensors[name] = Tensor(shape: t.shape, data: v)
        }
        return r
    }

    /// L2 norm over all tensors, in Double.
    public var norm: Double {
        var s = 0.0
        for n in names { let v = tensors[n]?.norm ?? 0; s += v * v }
        return s.squareRoot()
    }
}

/// The reference's parameter names and shapes, and their initial values.
public enum ParameterLayout {
    /// GRU parameter names (both directions), for quirk 8.
    public static let gruNames: [String] = ["", "_reverse"].flatMap { s in
        ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map { "txt_enc.cap_rnn.\($0)\(s)" }
    }

    /// Batch norms of the main net and their channel counts.
    public static func batchNorms(_ c: ModelConfig) -> [(name: String, channels: Int)] {
        var r = [("sim_enc.v_global_w.embedding_local.1", c.regions), ("sim_enc.v_global_w.embedding_global.1", c.embedDim)]
        if c.variant == .saf { r.append(("sim_enc.SAF_module.bn", 1)) }
        return r
    }

    /// Trainable parameters of the main net, initialised as the reference does: Xavier-uniform
    /// weights and zero biases for the linears, U(−0.1, 0.1) word embeddings, PyTorch's default
    /// U(−1/√h, 1/√h) for the GRU, batch-norm weight 1 and bias 0.
    public static func initialNet(_ c: ModelConfig, using g: inout SeededGenerator) -> NamedTensors {
        var p = NamedTensors()
        func linear(_ name: String, out: Int, in inF: Int) {
            p[name + ".weight"] = Tensor(shape: [out, inF], data: Initializers.xavierUniform(out: out, in: inF, using: &g))
            p[name + ".bias"] = Tensor(zeros: [out])
        }
        func bn(_ name: String, _ ch: Int) {
            p[name + ".weight"] = Tensor(shape: [ch], data: [Float](repeating: 1, count: ch))
            p[name + ".bias"] = Tensor(zeros: [ch])
        }
        let d = c.embedDim, s = c.simDim
        linear("img_enc.fc", out: d, in: c.imageDim)
        p["txt_enc.embed.weight"] = Tensor(shape: [c.vocabSize, c.wordDim],
                                           data: Initializers.uniform(count: c.vocabSize * c.wordDim, low: -0.1, high: 0.1, using: &g))
        let k = Float(1 / Double(d).squareRoot())
        for suffix in ["", "_reverse"] {
            for (n, shape) in [("weight_ih_l0", [3 * d, c.wordDim]), ("weight_hh_l0", [3 * d, d]), ("bias_ih_l0", [3 * d]), ("bias_hh_l0", [3 * d])] {
                let count = shape.reduce(1, *)
                p["txt_enc.cap_rnn.\(n)\(suffix)"] = Tensor(shape: shape, data: Initializers.uniform(count: count, low: -k, high: k, using: &g))
            }
        }
        linear("sim_enc.v_global_w.embedding_local.0", out: d, in: d)
        bn("sim_enc.v_global_w.embedding_local.1", c.regions)
        linear("sim_enc.v_global_w.embedding_global.0", out: d, in: d)
        bn("sim_enc.v_global_w.embedding_global.1", d)
        linear("sim_enc.v_global_w.embedding_common.0", out: 1, in: d)
        linear("sim_enc.t_global_w.embedding_local.0", out: d, in: d)
        linear("sim_enc.t_global_w.embedding_global.0", out: d, in: d)
        linear("sim_enc.t_global_w.embedding_common.0", out: 1, in: d)
        linear("sim_enc.sim_tranloc_w", out: s, in: d)
        linear("sim_enc.sim_tranglo_w", out: s, in: d)
        switch c.variant {
        case .sgr:
            for i in 0..<c.sgrSteps {
                for n in ["graph_query_w", "graph_key_w", "sim_graph_w"] { linear("sim_enc.SGR_module.\(i).\(n)", out: s, in: s) }
            }
        case .saf:
            linear("sim_enc.SAF_module.attn_sim_w", out: 1, in: s)
            bn("sim_enc.SAF_module.bn", 1)
        }
        return p
    }

    /// The meta similarity net, with PyTorch's default Linear initialisation U(−1/√in, 1/√in).
    public static func initialMeta(_ c: ModelConfig, using g: inout SeededGenerator) -> NamedTensors {
        var p = NamedTensors()
        func linear(_ name: String, out: Int, in inF: Int) {
            let k = Float(1 / Double(inF).squareRoot())
            p[name + ".weight"] = Tensor(shape: [out, inF], data: Initializers.uniform(count: out * inF, low: -k, high: k, using: &g))
            p[name + ".bias"] = Tensor(shape: [out], data: Initializers.uniform(count: out, low: -k, high: k, using: &g))
        }
        linear("first_hidden_layer.fc", out: c.metaHidden, in: c.simDim)
        linear("output_layer", out: 1, in: c.metaHidden)
        return p
    }

    public static func initialBuffers(_ c: ModelConfig) -> [String: BatchNormBuffers] {
        var r: [String: BatchNormBuffers] = [:]
        for (n, ch) in batchNorms(c) { r[n] = BatchNormBuffers(channels: ch, momentum: c.bnMomentum, eps: c.bnEps) }
        return r
    }
}
