import Foundation
import TensorFile
import TestSupport
import XCTest
@testable import SimilarityKernels

/// The kernel plus the meta net against the reference's score matrices (golden/mscn-parity).
/// The global vectors come from plain-loop VisualSA / TextSA here; everything else is the kernel.
final class GoldenParityTests: XCTestCase {
    /// Scores are sigmoid outputs; Float32 rounding through the chain stays near 1e-7.
    let tolerance: Float = 1e-5

    func testSGREvalMatchesReference() throws { try checkScores(module: "sgr", mode: "eval") }
    func testSAFEvalMatchesReference() throws { try checkScores(module: "saf", mode: "eval") }
    func testSGRTrainMatchesReference() throws { try checkScores(module: "sgr", mode: "train") }

    func testSAFTrainMatchesReferenceAndUpdatesRunningStats() throws {
        let g = try GoldenCase(module: "saf", mode: "train")
        var params = try g.similarityParams()
        XCTAssertEqual(params.safBN?.numBatchesTracked, try g.int("param__net__sim_enc.SAF_module.bn.num_batches_tracked"))
        try checkScores(g, params: &params)
        // The reference ran all pairs, then the diagonal: one update per caption each time.
        let mean = try g.floats("train/after_forward__net__sim_enc.SAF_module.bn.running_mean")
        let variance = try g.floats("train/after_forward__net__sim_enc.SAF_module.bn.running_var")
        let tracked = try g.int("train/after_forward__net__sim_enc.SAF_module.bn.num_batches_tracked")
        let bn = try XCTUnwrap(params.safBN)
        XCTAssertEqual(bn.numBatchesTracked, tracked)
        XCTAssertEqual(bn.runningMean[0], mean[0], accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar[0], variance[0], accuracy: 1e-6 * max(1, variance[0]))
        print("SAF running stats: mean \(bn.runningMean[0]) vs \(mean[0]), var \(bn.runningVar[0]) vs \(variance[0])")
    }

    private func checkScores(module: String, mode: String) throws {
        let g = try GoldenCase(module: module, mode: mode)
        var params = try g.similarityParams()
        try checkScores(g, params: &params)
    }

    /// All pairs against `out/sims`, then the diagonal path against `out/sims_individual`,
    /// in the reference's call order (which matters for SAF's running statistics).
    private func checkScores(_ g: GoldenCase, params: inout SimilarityParams) throws {
        let training = g.mode == "train"
        let kernel = SimilarityKernel(dim: g.dim, simDim: g.simDim, module: g.module)
        let inputs = try g.inputs(training: training)
        let all = kernel.forward(inputs, params: &params, pairs: .all, training: training, keepTape: false)
        let scores = try g.metaNet(all.simVectors)
        let expected = try g.floats("out__sims")
        XCTAssertEqual(scores.count, expected.count)
        let allError = zip(scores, expected).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(allError, tolerance, "\(g.name) all pairs")

        let diag = kernel.forward(inputs, params: &params, pairs: .diagonal, training: training, keepTape: false)
        let diagScores = try g.metaNet(diag.simVectors)
        let expectedDiag = try g.floats("out__sims_individual")
        XCTAssertEqual(diagScores.count, expectedDiag.count)
        let diagError = zip(diagScores, expectedDiag).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(diagError, tolerance, "\(g.name) diagonal")
        print("parity \(g.name): max |Δ| all pairs \(allError), diagonal \(diagError)")
    }
}

/// One golden folder (`mscn-parity/<module>/<mode>`) and the small reference pieces the kernel
/// does not cover: VisualSA, TextSA and the meta net, as plain loops.
struct GoldenCase {
    let root: URL
    let name: String
    let mode: String
    let module: SimilarityModule
    let batch: Int, dim: Int, simDim: Int, regions: Int, eps: Float, momentum: Float

    init(module moduleName: String, mode: String) throws {
        let base = TestPaths.parityGolden
        guard FileManager.default.fileExists(atPath: base.path) else {
            throw GoldenError("golden folder missing: \(base.path) (Tests/ModelTests/Golden is part of the repository)")
        }
        root = base.appendingPathComponent(moduleName)
        name = "\(moduleName)/\(mode)"
        self.mode = mode
        let manifestURL = root.appendingPathComponent(mode).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: manifestURL.path),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let config = json["config"] as? [String: Any] else {
            throw GoldenError("\(manifestURL.path): missing or without a config")
        }
        func int(_ key: String) throws -> Int {
            guard let v = config[key] as? Int else { throw GoldenError("\(manifestURL.path): config.\(key) missing") }
            return v
        }
        func double(_ key: String) throws -> Double {
            guard let v = config[key] as? Double else { throw GoldenError("\(manifestURL.path): config.\(key) missing") }
            return v
        }
        batch = try int("batch")
        dim = try int("embed")
        simDim = try int("sim_dim")
        regions = try int("regions")
        eps = Float(try double("bn_eps"))
        momentum = Float(try double("bn_momentum"))
        module = moduleName == "sgr" ? .sgr(steps: try int("sgr_step")) : .saf
    }

    /// `name` is relative to this mode's folder unless it starts with a mode folder.
    func tensor(_ name: String) throws -> StoredTensor {
        let rel = name.hasPrefix("train/") || name.hasPrefix("eval/") ? name : "\(mode)/\(name)"
        return try NPY.read(root.appendingPathComponent(rel + ".npy").path)
    }
    func floats(_ name: String) throws -> [Float] { try tensor(name).floats() }
    func int(_ name: String) throws -> Int {
        guard let v = try tensor(name).ints().first else { throw GoldenError("\(name) is empty") }
        return v
    }

    func linear(_ prefix: String) throws -> LinearParams {
        let w = try tensor("param__net__sim_enc.\(prefix).weight")
        let b = try floats("param__net__sim_enc.\(prefix).bias")
        guard w.shape.count == 2 else { throw GoldenError("\(prefix).weight is not a matrix") }
        return LinearParams(weight: try w.floats(), bias: b, outFeatures: w.shape[0], inFeatures: w.shape[1])
    }

    func similarityParams() throws -> SimilarityParams {
        var p = SimilarityParams(tranLoc: try linear("sim_tranloc_w"), tranGlo: try linear("sim_tranglo_w"))
        switch module {
        case .sgr(let steps):
            for k in 0..<steps {
                p.sgr.append((query: try linear("SGR_module.\(k).graph_query_w"), key: try linear("SGR_module.\(k).graph_key_w"),
                              graph: try linear("SGR_module.\(k).sim_graph_w")))
            }
        case .saf:
            p.safAttn = try linear("SAF_module.attn_sim_w")
            let bn = "param__net__sim_enc.SAF_module.bn"
            p.safBN = BatchNormState(weight: try floats(bn + ".weight"), bias: try floats(bn + ".bias"),
                                     runningMean: try floats(bn + ".running_mean"), runningVar: try floats(bn + ".running_var"),
                                     numBatchesTracked: try int(bn + ".num_batches_tracked"), momentum: momentum, eps: eps)
        }
        return p
    }

    func inputs(training: Bool) throws -> SimilarityInputs {
        let img = try tensor("out__img_emb"), cap = try tensor("out__cap_emb")
        let lengths = try tensor("input__lengths").ints()
        guard img.shape == [batch, regions, dim], cap.shape.count == 3, cap.shape[0] == batch, cap.shape[2] == dim else {
            throw GoldenError("\(name): embeddings have shapes \(img.shape), \(cap.shape)")
        }
        let images = try img.floats(), captions = try cap.floats()
        let Lmax = cap.shape[1]
        let imageGlobal = try visualSA(images, training: training)
        var captionGlobal: [Float] = []
        for c in 0..<batch {
            captionGlobal += try textSA(Array(captions[(c * Lmax * dim)..<((c * Lmax + lengths[c]) * dim)]), words: lengths[c])
        }
        return SimilarityInputs(images: images, imageGlobal: imageGlobal, captions: captions, lengths: lengths,
                                captionGlobal: captionGlobal, imageCount: batch, captionCount: batch,
                                regions: regions, maxLength: Lmax, dim: dim)
    }

    private func apply(_ l: LinearParams, _ x: ArraySlice<Float>) -> [Float] {
        let base = x.startIndex
        return (0..<l.outFeatures).map { o in
            var acc = Double(l.bias[o])
            for i in 0..<l.inFeatures { acc += Double(l.weight[o * l.inFeatures + i]) * Double(x[base + i]) }
            return Float(acc)
        }
    }

    /// BatchNorm1d over `channels`, each with the values `index(c)` lists.
    private func batchNorm(_ x: inout [Float], prefix: String, channels: Int, training: Bool, index: (Int) -> [Int]) throws {
        let w = try floats(prefix + ".weight"), b = try floats(prefix + ".bias")
        let rm = try floats(prefix + ".running_mean"), rv = try floats(prefix + ".running_var")
        for c in 0..<channels {
            let idx = index(c)
            var mean = Double(rm[c]), variance = Double(rv[c])
            if training {
                mean = idx.reduce(0.0) { $0 + Double(x[$1]) } / Double(idx.count)
                variance = idx.reduce(0.0) { $0 + (Double(x[$1]) - mean) * (Double(x[$1]) - mean) } / Double(idx.count)
            }
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for i in idx { x[i] = Float((Double(x[i]) - mean) * inv * Double(w[c]) + Double(b[c])) }
        }
    }

    private func attentionPool(_ local: [Float], _ l: [Float], _ g: [Float], count: Int, common: LinearParams) -> [Float] {
        var logits: [Double] = []
        for r in 0..<count {
            let prod = (0..<dim).map { l[r * dim + $0] * g[$0] }
            logits.append(Double(apply(common, prod[...])[0]))
        }
        let m = logits.max() ?? 0
        let ex = logits.map { Foundation.exp($0 - m) }
        let z = ex.reduce(0, +)
        var out = [Double](repeating: 0, count: dim)
        for r in 0..<count { for k in 0..<dim { out[k] += ex[r] / z * Double(local[r * dim + k]) } }
        let n = out.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        return out.map { Float($0 / (n + 1e-8)) }
    }

    /// VisualSA over the whole batch (its batch norms see all images in training mode).
    func visualSA(_ images: [Float], training: Bool) throws -> [Float] {
        let p = "param__net__sim_enc.v_global_w"
        let localW = try linear("v_global_w.embedding_local.0"), globalW = try linear("v_global_w.embedding_global.0")
        let common = try linear("v_global_w.embedding_common.0")
        let B = batch, R = regions, d = dim
        var l: [Float] = [], g: [Float] = []
        for i in 0..<B {
            for r in 0..<R { l += apply(localW, images[((i * R + r) * d)..<((i * R + r + 1) * d)]) }
            var mean = [Float](repeating: 0, count: d)
            for r in 0..<R { for k in 0..<d { mean[k] += images[(i * R + r) * d + k] } }
            g += apply(globalW, mean.map { $0 / Float(R) }[...])
        }
        try batchNorm(&l, prefix: p + ".embedding_local.1", channels: R, training: training) { r -> [Int] in
            var idx: [Int] = []
            for i in 0..<B { let start: Int = (i * R + r) * d; idx += Array(start..<(start + d)) }
            return idx
        }
        try batchNorm(&g, prefix: p + ".embedding_global.1", channels: d, training: training) { k in (0..<B).map { $0 * d + k } }
        l = l.map { Foundation.tanh($0) }
        g = g.map { Foundation.tanh($0) }
        return (0..<B).flatMap { i in
            attentionPool(Array(images[(i * R * d)..<((i + 1) * R * d)]), Array(l[(i * R * d)..<((i + 1) * R * d)]),
                          Array(g[(i * d)..<((i + 1) * d)]), count: R, common: common)
        }
    }

    /// TextSA over one caption's true words.
    func textSA(_ words: [Float], words L: Int) throws -> [Float] {
        let localW = try linear("t_global_w.embedding_local.0"), globalW = try linear("t_global_w.embedding_global.0")
        let common = try linear("t_global_w.embedding_common.0")
        var l: [Float] = []
        for w in 0..<L { l += apply(localW, words[(w * dim)..<((w + 1) * dim)]).map { Foundation.tanh($0) } }
        var mean = [Float](repeating: 0, count: dim)
        for w in 0..<L { for k in 0..<dim { mean[k] += words[w * dim + k] } }
        let g = apply(globalW, mean.map { $0 / Float(L) }[...]).map { Foundation.tanh($0) }
        return attentionPool(words, l, g, count: L, common: common)
    }

    /// Meta net: sigmoid(Linear(h→1)(ReLU(Linear(s→h)(v)))) per similarity vector.
    func metaNet(_ sims: [Float]) throws -> [Float] {
        func lin(_ n: String) throws -> LinearParams {
            let w = try tensor("param__meta__\(n).weight")
            return LinearParams(weight: try w.floats(), bias: try floats("param__meta__\(n).bias"),
                                outFeatures: w.shape[0], inFeatures: w.shape[1])
        }
        let first = try lin("first_hidden_layer.fc"), out = try lin("output_layer")
        return (0..<(sims.count / simDim)).map { p in
            let h = apply(first, sims[(p * simDim)..<((p + 1) * simDim)]).map { max($0, 0) }
            return Float(1 / (1 + Foundation.exp(-Double(apply(out, h[...])[0]))))
        }
    }
}

struct GoldenError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
