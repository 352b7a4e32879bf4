/// A named Float tensor in the reference's naming (module path under `sim_enc.`, PyTorch shape).
public struct NamedTensor: Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Missing or mis-shaped tensors when building parameters from names.
public struct SimilarityParamsError: Error, CustomStringConvertible {
    public let description: String
}

private func linearTensors(_ l: LinearParams, _ name: String) -> [NamedTensor] {
    [NamedTensor(name: name + ".weight", shape: [l.outFeatures, l.inFeatures], values: l.weight),
     NamedTensor(name: name + ".bias", shape: [l.outFeatures], values: l.bias)]
}

private func sgrNames(_ k: Int) -> (String, String, String) {
    ("SGR_module.\(k).graph_query_w", "SGR_module.\(k).graph_key_w", "SGR_module.\(k).sim_graph_w")
}

extension SimilarityParams {
    /// The trainable tensors, in a fixed order that `SimilarityGrads.trainableTensors` shares.
    public var trainableTensors: [NamedTensor] {
        var out = linearTensors(tranLoc, "sim_tranloc_w") + linearTensors(tranGlo, "sim_tranglo_w")
        for (k, step) in sgr.enumerated() {
            let (q, kk, g) = sgrNames(k)
            out += linearTensors(step.query, q) + linearTensors(step.key, kk) + linearTensors(step.graph, g)
        }
        if let a = safAttn { out += linearTensors(a, "SAF_module.attn_sim_w") }
        if let bn = safBN {
            out.append(NamedTensor(name: "SAF_module.bn.weight", shape: [1], values: bn.weight))
            out.append(NamedTensor(name: "SAF_module.bn.bias", shape: [1], values: bn.bias))
        }
        return out
    }

    /// SAF's batch-norm buffers (`running_mean`, `running_var` as f32, `num_batches_tracked` as
    /// a one-element value); empty for SGR.
    public var bufferTensors: [NamedTensor] {
        guard let bn = safBN else { return [] }
        return [NamedTensor(name: "SAF_module.bn.running_mean", shape: [1], values: bn.runningMean),
                NamedTensor(name: "SAF_module.bn.running_var", shape: [1], values: bn.runningVar),
                NamedTensor(name: "SAF_module.bn.num_batches_tracked", shape: [], values: [Float(bn.numBatchesTracked)])]
    }

    /// Builds parameters from tensors named as in `trainableTensors` / `bufferTensors`
    /// (e.g. a checkpoint, or the reference's `sim_enc.*` with the prefix removed).
    public init(tensors: [String: NamedTensor], module: SimilarityModule, dim: Int, simDim: Int,
                bnMomentum: Float = 0.1, bnEps: Float = 1e-5) throws {
        func values(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let t = tensors[name] else { throw SimilarityParamsError(description: "missing tensor \(name)") }
            guard t.shape == shape, t.values.count == shape.reduce(1, *) else {
                throw SimilarityParamsError(description: "\(name) has shape \(t.shape), expected \(shape)")
            }
            return t.values
        }
        func linear(_ name: String, _ o: Int, _ i: Int) throws -> LinearParams {
            LinearParams(weight: try values(name + ".weight", [o, i]), bias: try values(name + ".bias", [o]),
                         outFeatures: o, inFeatures: i)
        }
        self.init(tranLoc: try linear("sim_tranloc_w", simDim, dim), tranGlo: try linear("sim_tranglo_w", simDim, dim))
        switch module {
        case .sgr(let steps):
            for k in 0..<steps {
                let (q, kk, g) = sgrNames(k)
                sgr.append((query: try linear(q, simDim, simDim), key: try linear(kk, simDim, simDim),
                            graph: try linear(g, simDim, simDim)))
            }
        case .saf:
            safAttn = try linear("SAF_module.attn_sim_w", 1, simDim)
            let tracked = tensors["SAF_module.bn.num_batches_tracked"]?.values.first ?? 0
            safBN = BatchNormState(weight: try values("SAF_module.bn.weight", [1]), bias: try values("SAF_module.bn.bias", [1]),
                                   runningMean: try values("SAF_module.bn.running_mean", [1]),
                                   runningVar: try values("SAF_module.bn.running_var", [1]),
                                   numBatchesTracked: Int(tracked), momentum: bnMomentum, eps: bnEps)
        }
    }
}

extension SimilarityGrads {
    /// Gradients named and ordered exactly as `SimilarityParams.trainableTensors`.
    public var trainableTensors: [NamedTensor] {
        var out = linearTensors(tranLoc, "sim_tranloc_w") + linearTensors(tranGlo, "sim_tranglo_w")
        for (k, step) in sgr.enumerated() {
            let (q, kk, g) = sgrNames(k)
            out += linearTensors(step.query, q) + linearTensors(step.key, kk) + linearTensors(step.graph, g)
        }
        if let a = safAttn { out += linearTensors(a, "SAF_module.attn_sim_w") }
        if let w = safBNWeight { out.append(NamedTensor(name: "SAF_module.bn.weight", shape: [1], values: w)) }
        if let b = safBNBias { out.append(NamedTensor(name: "SAF_module.bn.bias", shape: [1], values: b)) }
        return out
    }
}
