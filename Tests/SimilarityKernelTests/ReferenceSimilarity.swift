import Foundation
@testable import SimilarityKernels

/// A plain-loop Double re-implementation of the pair similarity (one pair at a time, no
/// batching), used as the independent forward for parity and for finite differences.
/// Tensors live in a name → [Double] dictionary so every one can be perturbed the same way.
struct ReferenceProblem {
    var tensors: [String: [Double]]
    var lengths: [Int]
    var imageCount: Int
    var captionCount: Int
    var regions: Int
    var maxLength: Int
    var dim: Int
    var simDim: Int
    var module: SimilarityModule
    var bnMomentum = 0.1
    var bnEps = 1e-5

    var steps: Int { if case .sgr(let k) = module { return k } else { return 0 } }

    /// Names of every differentiable tensor (inputs first, then parameters).
    var differentiableNames: [String] {
        var n = ["images", "imageGlobal", "captions", "captionGlobal", "loc.w", "loc.b", "glo.w", "glo.b"]
        for k in 0..<steps { for part in ["q", "k", "g"] { n += ["sgr\(k).\(part).w", "sgr\(k).\(part).b"] } }
        if module == .saf { n += ["attn.w", "attn.b", "bn.w", "bn.b"] }
        return n
    }

    func t(_ name: String) -> [Double] {
        guard let v = tensors[name] else { fatalError("ReferenceProblem: no tensor \(name)") }
        return v
    }

    // MARK: conversion to the kernel's types

    func kernelInputs() -> SimilarityInputs {
        SimilarityInputs(images: t("images").map(Float.init), imageGlobal: t("imageGlobal").map(Float.init),
                         captions: t("captions").map(Float.init), lengths: lengths,
                         captionGlobal: t("captionGlobal").map(Float.init), imageCount: imageCount,
                         captionCount: captionCount, regions: regions, maxLength: maxLength, dim: dim)
    }

    func kernelParams() -> SimilarityParams {
        func lin(_ p: String, _ o: Int, _ i: Int) -> LinearParams {
            LinearParams(weight: t(p + ".w").map(Float.init), bias: t(p + ".b").map(Float.init), outFeatures: o, inFeatures: i)
        }
        var p = SimilarityParams(tranLoc: lin("loc", simDim, dim), tranGlo: lin("glo", simDim, dim))
        for k in 0..<steps {
            p.sgr.append((query: lin("sgr\(k).q", simDim, simDim), key: lin("sgr\(k).k", simDim, simDim),
                          graph: lin("sgr\(k).g", simDim, simDim)))
        }
        if module == .saf {
            p.safAttn = lin("attn", 1, simDim)
            p.safBN = BatchNormState(weight: t("bn.w").map(Float.init), bias: t("bn.b").map(Float.init),
                                     runningMean: t("bn.rm").map(Float.init), runningVar: t("bn.rv").map(Float.init),
                                     numBatchesTracked: 0, momentum: Float(bnMomentum), eps: Float(bnEps))
        }
        return p
    }

    /// The kernel's gradients under the reference's tensor names.
    static func named(_ g: (inputs: SimilarityInputGrads, params: SimilarityGrads)) -> [String: [Float]] {
        var out: [String: [Float]] = [
            "images": g.inputs.images, "imageGlobal": g.inputs.imageGlobal, "captions": g.inputs.captions,
            "captionGlobal": g.inputs.captionGlobal, "loc.w": g.params.tranLoc.weight, "loc.b": g.params.tranLoc.bias,
            "glo.w": g.params.tranGlo.weight, "glo.b": g.params.tranGlo.bias,
        ]
        for (k, step) in g.params.sgr.enumerated() {
            out["sgr\(k).q.w"] = step.query.weight; out["sgr\(k).q.b"] = step.query.bias
            out["sgr\(k).k.w"] = step.key.weight; out["sgr\(k).k.b"] = step.key.bias
            out["sgr\(k).g.w"] = step.graph.weight; out["sgr\(k).g.b"] = step.graph.bias
        }
        if let a = g.params.safAttn { out["attn.w"] = a.weight; out["attn.b"] = a.bias }
        if let w = g.params.safBNWeight { out["bn.w"] = w }
        if let b = g.params.safBNBias { out["bn.b"] = b }
        return out
    }

    // MARK: forward

    /// Similarity vectors `[P, s]` in the kernel's pair order, and (SAF training) the running
    /// mean/variance after the per-caption updates.
    func forward(pairs: PairSet, training: Bool) -> (sims: [Double], runningMean: Double, runningVar: Double) {
        let R = regions, d = dim, s = simDim
        let V = t("images"), T = t("captions"), vg = t("imageGlobal"), tg = t("captionGlobal")
        let pairList: [(Int, Int)] = pairs == .all
            ? (0..<imageCount).flatMap { i in (0..<captionCount).map { (i, $0) } }
            : (0..<imageCount).map { ($0, $0) }
        func linear(_ x: [Double], _ p: String, _ o: Int) -> [Double] {
            let w = t(p + ".w"), b = t(p + ".b"), i = x.count
            return (0..<o).map { r in b[r] + (0..<i).reduce(0.0) { $0 + w[r * i + $1] * x[$1] } }
        }
        func l2(_ x: [Double]) -> [Double] {
            let n = x.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            return x.map { $0 / (n + 1e-8) }
        }
        // Nodes of every pair: [global; words].
        var nodes: [[[Double]]] = []
        for (i, c) in pairList {
            let L = lengths[c]
            let v = (0..<R).map { r in Array(V[(i * R + r) * d..<(i * R + r + 1) * d]) }
            let w = (0..<L).map { l in Array(T[(c * maxLength + l) * d..<(c * maxLength + l + 1) * d]) }
            var A = (0..<R).map { r in (0..<L).map { l -> Double in
                let x = zip(v[r], w[l]).reduce(0.0) { $0 + $1.0 * $1.1 }
                return x > 0 ? x : 0.1 * x } }
            A = A.map(l2)
            var S: [[Double]] = []
            let gdiff = (0..<d).map { k -> Double in let x = vg[i * d + k] - tg[c * d + k]; return x * x }
            S.append(l2(linear(gdiff, "glo", s)))
            for l in 0..<L {
                let logits = (0..<R).map { 9 * A[$0][l] }
                let m = logits.max() ?? 0
                let ex = logits.map { Foundation.exp($0 - m) }
                let z = ex.reduce(0, +)
                var u = [Double](repeating: 0, count: d)
                for r in 0..<R { for k in 0..<d { u[k] += ex[r] / z * v[r][k] } }
                u = l2(u)
                let diff = (0..<d).map { k -> Double in let x = u[k] - w[l][k]; return x * x }
                S.append(l2(linear(diff, "loc", s)))
            }
            nodes.append(S)
        }
        var sims: [Double] = []
        var rm = tensors["bn.rm"]?.first ?? 0, rv = tensors["bn.rv"]?.first ?? 1
        switch module {
        case .sgr(let steps):
            for var S in nodes {
                for k in 0..<steps {
                    let Q = S.map { linear($0, "sgr\(k).q", s) }, K = S.map { linear($0, "sgr\(k).k", s) }
                    S = Q.map { q in
                        let logits = K.map { kk in zip(q, kk).reduce(0.0) { $0 + $1.0 * $1.1 } }
                        let m = logits.max() ?? 0
                        let ex = logits.map { Foundation.exp($0 - m) }
                        let z = ex.reduce(0, +)
                        var msg = [Double](repeating: 0, count: s)
                        for (b, node) in S.enumerated() { for q in 0..<s { msg[q] += ex[b] / z * node[q] } }
                        return linear(msg, "sgr\(k).g", s).map { max($0, 0) }
                    }
                }
                sims += S[0]
            }
        case .saf:
            let logits = nodes.map { S in S.map { linear($0, "attn", 1)[0] } }
            let gamma = t("bn.w")[0], beta = t("bn.b")[0]
            var mean = [Double](repeating: rm, count: captionCount), varN = [Double](repeating: rv, count: captionCount)
            if training {
                for c in 0..<captionCount {
                    let zs = pairList.indices.filter { pairList[$0].1 == c }.flatMap { logits[$0] }
                    let mu = zs.reduce(0, +) / Double(zs.count)
                    let v = zs.reduce(0.0) { $0 + ($1 - mu) * ($1 - mu) } / Double(zs.count)
                    mean[c] = mu
                    varN[c] = v
                    rm = (1 - bnMomentum) * rm + bnMomentum * mu
                    rv = (1 - bnMomentum) * rv + bnMomentum * v * Double(zs.count) / Double(zs.count - 1)
                }
            }
            for (p, (_, c)) in pairList.enumerated() {
                let gates = logits[p].map { z in 1 / (1 + Foundation.exp(-(gamma * (z - mean[c]) / (varN[c] + bnEps).squareRoot() + beta))) }
                let total = gates.reduce(0, +) + 1e-8
                var v = [Double](repeating: 0, count: s)
                for (k, node) in nodes[p].enumerated() { for q in 0..<s { v[q] += gates[k] / total * node[q] } }
                sims += l2(v)
            }
        }
        return (sims, rm, rv)
    }
}

/// SplitMix64: a tiny deterministic generator for test data (the test target does not link MSCNRandom).
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi), rounded to Float so Double and Float runs see the same point.
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        Double(Float(lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)))
    }
    mutating func array(_ n: Int, _ lo: Double, _ hi: Double) -> [Double] { (0..<n).map { _ in uniform(lo, hi) } }
}

extension ReferenceProblem {
    /// A random problem with Xavier-like weights and l2-normalised embeddings.
    static func random(seed: UInt64, module: SimilarityModule, imageCount: Int, captionCount: Int, regions: Int,
                       lengths: [Int], dim: Int, simDim: Int, edgeGain: Double = 4) -> ReferenceProblem {
        var rng = TestRNG(state: seed)
        let maxLength = lengths.max() ?? 1
        func normalizedRows(_ rows: Int) -> [Double] {
            (0..<rows).flatMap { _ -> [Double] in
                let r = rng.array(dim, -1, 1)
                let n = r.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                return r.map { Double(Float($0 / n)) }
            }
        }
        var tensors: [String: [Double]] = [:]
        tensors["images"] = normalizedRows(imageCount * regions)
        tensors["imageGlobal"] = normalizedRows(imageCount)
        // Padding rows hold garbage on purpose: the kernel must never read them.
        tensors["captions"] = normalizedRows(captionCount * maxLength)
        tensors["captionGlobal"] = normalizedRows(captionCount)
        // edgeGain scales SGR's query/key weights: with plain Xavier weights the edge softmax
        // is near uniform, later rounds see almost identical nodes and their query/key
        // gradients vanish (~1e-11), which would make their check vacuous.
        func lin(_ name: String, _ o: Int, _ i: Int, gain: Double = 1) {
            let a = gain * (6.0 / Double(o + i)).squareRoot()
            tensors[name + ".w"] = rng.array(o * i, -a, a)
            tensors[name + ".b"] = rng.array(o, -0.1, 0.1)
        }
        lin("loc", simDim, dim)
        lin("glo", simDim, dim)
        if case .sgr(let steps) = module {
            for k in 0..<steps { lin("sgr\(k).q", simDim, simDim, gain: edgeGain); lin("sgr\(k).k", simDim, simDim, gain: edgeGain); lin("sgr\(k).g", simDim, simDim) }
        } else {
            lin("attn", 1, simDim)
            tensors["bn.w"] = [rng.uniform(0.5, 1.5)]
            tensors["bn.b"] = [rng.uniform(-0.2, 0.2)]
            tensors["bn.rm"] = [rng.uniform(-0.1, 0.1)]
            tensors["bn.rv"] = [rng.uniform(0.5, 1.5)]
        }
        return ReferenceProblem(tensors: tensors, lengths: lengths, imageCount: imageCount, captionCount: captionCount,
                                regions: regions, maxLength: maxLength, dim: dim, simDim: simDim, module: module)
    }
}
