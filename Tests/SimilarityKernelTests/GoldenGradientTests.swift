import Foundation
import XCTest
@testable import SimilarityKernels

/// The kernel's parameter gradients against PyTorch autograd: the golden warm-up loss
/// (sum-of-means hinge over the all-pairs scores) back through the meta net, then the kernel.
/// Only the similarity parameters are compared — their gradients reach them through the
/// similarity vectors alone, so nothing outside the kernel (encoders, VisualSA) is involved.
final class GoldenGradientTests: XCTestCase {
    func testSGREvalGradients() throws { try check(module: "sgr", mode: "eval") }
    func testSAFEvalGradients() throws { try check(module: "saf", mode: "eval") }
    func testSGRTrainGradients() throws { try check(module: "sgr", mode: "train") }
    func testSAFTrainGradients() throws { try check(module: "saf", mode: "train") }

    private func check(module: String, mode: String) throws {
        let g = try GoldenCase(module: module, mode: mode)
        let training = mode == "train"
        var params = try g.similarityParams()
        let kernel = SimilarityKernel(dim: g.dim, simDim: g.simDim, module: g.module)
        let out = kernel.forward(try g.inputs(training: training), params: &params, pairs: .all, training: training, keepTape: true)
        let tape = try XCTUnwrap(out.tape)
        let (loss, dSim) = try warmupLossBackward(g, simVectors: out.simVectors)
        XCTAssertEqual(loss, try g.floats("out__loss_warmup")[0], accuracy: 1e-5, "\(g.name) warm-up loss")
        let grads = kernel.backward(tape, params: try g.similarityParams(), dSimVectors: dSim).params

        var compared: [(String, [Float])] = [
            ("sim_tranloc_w.weight", grads.tranLoc.weight), ("sim_tranloc_w.bias", grads.tranLoc.bias),
            ("sim_tranglo_w.weight", grads.tranGlo.weight), ("sim_tranglo_w.bias", grads.tranGlo.bias),
        ]
        for (k, step) in grads.sgr.enumerated() {
            compared += [("SGR_module.\(k).graph_query_w.weight", step.query.weight), ("SGR_module.\(k).graph_query_w.bias", step.query.bias),
                         ("SGR_module.\(k).graph_key_w.weight", step.key.weight), ("SGR_module.\(k).graph_key_w.bias", step.key.bias),
                         ("SGR_module.\(k).sim_graph_w.weight", step.graph.weight), ("SGR_module.\(k).sim_graph_w.bias", step.graph.bias)]
        }
        if let a = grads.safAttn { compared += [("SAF_module.attn_sim_w.weight", a.weight), ("SAF_module.attn_sim_w.bias", a.bias)] }
        if let w = grads.safBNWeight, let b = grads.safBNBias { compared += [("SAF_module.bn.weight", w), ("SAF_module.bn.bias", b)] }
        let all = try compared.map { ($0.0, $0.1, try g.floats("grad_warmup__net__sim_enc.\($0.0)")) }
        // Scale: the largest gradient of the similarity part (invariant-zero tensors such as the
        // key biases are compared against it rather than against their own rounding noise).
        let overall = all.flatMap { $0.2 }.map(abs).max() ?? 0
        var worst: Float = 0
        for (name, mine, ref) in all {
            XCTAssertEqual(mine.count, ref.count, name)
            let scale = max(ref.map(abs).max() ?? 0, 1e-3 * overall)
            // Both sides are Float32 sums in different orders: 1e-4 of the scale is ~1000 ulps.
            let ratio = zip(mine, ref).map { abs($0 - $1) / (1e-4 * scale + 1e-3 * abs($1)) }.max() ?? 0
            worst = max(worst, ratio)
            XCTAssertLessThanOrEqual(ratio, 1, "\(g.name) \(name)")
        }
        print("golden gradients \(g.name): worst error/tolerance \(worst) over \(all.count) tensors")
    }

    /// Warm-up loss (SPEC §5, margin 0.2) on the meta net's scores, and its gradient with
    /// respect to the similarity vectors (through the meta net).
    private func warmupLossBackward(_ g: GoldenCase, simVectors: [Float]) throws -> (Float, [Float]) {
        let B = g.batch, s = g.simDim, margin = 0.2
        let w1t = try g.tensor("param__meta__first_hidden_layer.fc.weight")
        let w1 = try w1t.floats().map(Double.init), b1 = try g.floats("param__meta__first_hidden_layer.fc.bias").map(Double.init)
        let w2 = try g.floats("param__meta__output_layer.weight").map(Double.init), b2 = Double(try g.floats("param__meta__output_layer.bias")[0])
        let H = w1t.shape[0]
        var pre = [[Double]](), score = [Double]()
        for p in 0..<(B * B) {
            let v = simVectors[(p * s)..<((p + 1) * s)].map(Double.init)
            let h = (0..<H).map { o in b1[o] + (0..<s).reduce(0.0) { $0 + w1[o * s + $1] * v[$1] } }
            pre.append(h)
            let o = b2 + (0..<H).reduce(0.0) { $0 + w2[$1] * max(h[$1], 0) }
            score.append(1 / (1 + Foundation.exp(-o)))
        }
        func S(_ i: Int, _ j: Int) -> Double { score[i * B + j] }
        var loss = 0.0
        var dScore = [Double](repeating: 0, count: B * B)
        for i in 0..<B {
            for j in 0..<B where i != j {
                let c = margin + S(i, j) - S(i, i)  // caption retrieval, against the image's own pair
                if c > 0 { loss += c / Double(B); dScore[i * B + j] += 1 / Double(B); dScore[i * B + i] -= 1 / Double(B) }
                let m = margin + S(i, j) - S(j, j)  // image retrieval, against the caption's own pair
                if m > 0 { loss += m / Double(B); dScore[i * B + j] += 1 / Double(B); dScore[j * B + j] -= 1 / Double(B) }
            }
        }
        var dSim = [Float](repeating: 0, count: B * B * s)
        for p in 0..<(B * B) {
            let dO = dScore[p] * score[p] * (1 - score[p])
            for o in 0..<H where pre[p][o] > 0 {
                let dh = dO * w2[o]
                for k in 0..<s { dSim[p * s + k] += Float(dh * w1[o * s + k]) }
            }
        }
        return (Float(loss), dSim)
    }
}
