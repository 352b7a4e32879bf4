extension SimilarityKernel {
    /// Gradients of `Σ dSimVectors ⊙ simVectors` for the inputs and the trainable parameters.
    /// `params` must be the parameters the taped forward ran with.
    public func backward(_ tape: SimilarityTape, params: SimilarityParams, dSimVectors: [Float])
        -> (inputs: SimilarityInputGrads, params: SimilarityGrads) {
        let s = simDim, layout = tape.layout, x = tape.inputs, groups = layout.groups
        precondition(dSimVectors.count == tape.pairTotal * s,
                     "SimilarityKernel.backward: dSimVectors has \(dSimVectors.count) values, expected \(tape.pairTotal)×\(s)")
        precondition(tape.states.count == groups.count, "SimilarityKernel.backward: tape holds no activations")
        precondition(x.dim == dim, "SimilarityKernel.backward: tape was made by a kernel of dim \(x.dim), this one has \(dim)")
        precondition(module != .saf || tape.filtration != nil, "SimilarityKernel.backward: SAF tape without batch-norm statistics")
        let packed = PackedParams(params, module: module, dim: dim, simDim: s)
        let shape = AlignmentShape(regions: x.regions, dim: dim, simDim: s)
        let cap = GroupCapacity(maxOf: layout)
        let nw = max(1, min(workers, groups.count))
        let dOut = FloatBuffer(dSimVectors.count, zeroed: false)
        copyArray(dSimVectors, to: dOut.p)
        let steps: Int
        if case .sgr(let k) = module { steps = k } else { steps = 0 }
        let align = (0..<nw).map { _ in AlignmentGrads(x, simDim: s) }
        let graph = (0..<nw).map { _ in GraphGrads(steps: steps, simDim: s) }
        let filt = (0..<nw).map { _ in FiltrationGrads(simDim: s) }
        let scratch = (0..<nw).map { _ in BackwardScratch(cap, regions: x.regions, dim: dim, simDim: s, lean: tape.states.first?.lean ?? false) }
        let states = tape.states
        let filtrationStats = tape.filtration ?? FiltrationStats(mean: [], invStd: [], count: [], training: false)

        // SAF: the batch norm couples all pairs of a caption, so its backward needs per-caption
        // sums before any node gradient can be formed.
        var dxhat: [FloatBuffer] = []
        var captionMeans: [(Float, Float)] = []
        if module == .saf, let stats = tape.filtration {
            dxhat = groups.map { FloatBuffer($0.nodes) }
            let pairSums = UnsafeMutablePointer<Double>.allocate(capacity: max(2 * tape.pairTotal, 1))
            defer { pairSums.deallocate() }
            parallelWorkers(nw, threads: threads) { w in
                for gi in Self.range(worker: w, of: nw, count: groups.count) {
                    filtrationBackwardGates(groups[gi], layout, packed, states[gi], stats: stats, simDim: s,
                                            dOut: dOut.p, dxhat: dxhat[gi].p, pairSums: pairSums,
                                            scratch: scratch[w], grads: filt[w])
                }
            }
            var sums = [(Double, Double)](repeating: (0, 0), count: layout.captionCount)
            for g in groups {
                for c in g.captionLo..<g.captionHi {
                    let p = layout.pairIndex(image: g.image, caption: c)
                    sums[c].0 += pairSums[2 * p]
                    sums[c].1 += pairSums[2 * p + 1]
                }
            }
            captionMeans = (0..<layout.captionCount).map { c in
                guard stats.training, stats.count[c] > 0 else { return (0, 0) }
                let n = Double(stats.count[c])
                return (Float(sums[c].0 / n), Float(sums[c].1 / n))
            }
        }

        parallelWorkers(nw, threads: threads) { w in
            let sc = scratch[w]
            for gi in Self.range(worker: w, of: nw, count: groups.count) {
                let g = groups[gi], st = states[gi]
                let dS: UnsafeMutablePointer<Float>
                switch module {
                case .sgr:
                    // The group's output gradients, gathered into dQ (graphBackward copies them out first).
                    let gathered = sc.dQ.p
                    for c in g.captionLo..<g.captionHi {
                        (gathered + (c - g.captionLo) * s).update(from: dOut.p + layout.pairIndex(image: g.image, caption: c) * s, count: s)
                    }
                    dS = graphBackward(g, layout, packed, st, simDim: s, dOut: gathered, scratch: sc, grads: graph[w])
                case .saf:
                    dS = sc.dS.p
                    filtrationBackwardNodes(g, layout, packed, st, stats: filtrationStats, captionMeans: captionMeans, simDim: s,
                                            dOut: dOut.p, dxhat: dxhat[gi].p, dS: dS, scratch: sc, grads: filt[w])
                }
                alignmentBackward(g, layout, x, packed, st, shape: shape, dS: dS, scratch: sc, grads: align[w])
            }
        }
        return Self.reduce(x, layout: layout, align: align, graph: graph, filt: filt, params: params, simDim: s, module: module)
    }

    /// Sums the workers' accumulators in worker order and unpacks caption words to `[Bc, Lmax, d]`.
    static func reduce(_ x: PackedInputs, layout: PairLayout, align: [AlignmentGrads], graph: [GraphGrads],
                       filt: [FiltrationGrads], params: SimilarityParams, simDim s: Int, module: SimilarityModule)
        -> (inputs: SimilarityInputGrads, params: SimilarityGrads) {
        func total(_ pick: (Int) -> FloatBuffer) -> [Float] {
            let first = pick(0)
            for w in align.indices.dropFirst() { unsafeAxpy(1, pick(w).p, first.p, first.count) }
            return first.array
        }
        let d = x.dim
        let words = total { align[$0].words }
        var captions = [Float](repeating: 0, count: x.captionCount * x.maxLength * d)
        captions.withUnsafeMutableBufferPointer { dst in
            guard let base = dst.baseAddress else { return }
            words.withUnsafeBufferPointer { src in
                guard let sb = src.baseAddress else { return }
                for c in 0..<x.captionCount {
                    (base + c * x.maxLength * d).update(from: sb + layout.wordOffset[c] * d, count: layout.lengths[c] * d)
                }
            }
        }
        let inputs = SimilarityInputGrads(images: total { align[$0].images }, imageGlobal: total { align[$0].imageGlobal },
                                          captions: captions, captionGlobal: total { align[$0].captionGlobal })
        func lin(_ w: [Float], _ b: [Float], _ o: Int, _ i: Int) -> LinearParams {
            LinearParams(weight: w, bias: b, outFeatures: o, inFeatures: i)
        }
        var grads = SimilarityGrads(
            tranLoc: lin(total { align[$0].locW }, total { align[$0].locB }, s, d),
            tranGlo: lin(total { align[$0].gloW }, total { align[$0].gloB }, s, d),
            sgr: [], safAttn: nil, safBNWeight: nil, safBNBias: nil)
        switch module {
        case .sgr(let steps):
            for k in 0..<steps {
                grads.sgr.append((query: lin(total { graph[$0].w[k][0] }, total { graph[$0].b[k][0] }, s, s),
                                  key: lin(total { graph[$0].w[k][1] }, total { graph[$0].b[k][1] }, s, s),
                                  graph: lin(total { graph[$0].w[k][2] }, total { graph[$0].b[k][2] }, s, s)))
            }
        case .saf:
            var bias: Float = 0, gamma: Float = 0, beta: Float = 0
            for f in filt { bias += f.attnB; gamma += f.gamma; beta += f.beta }
            grads.safAttn = lin(total { filt[$0].attnW }, [bias], 1, s)
            grads.safBNWeight = [gamma]
            grads.safBNBias = [beta]
        }
        return (inputs, grads)
    }
}
