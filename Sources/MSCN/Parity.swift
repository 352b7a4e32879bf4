import Engine
import Foundation

/// One compared tensor of a parity run.
public struct ParityRow: Sendable {
    public enum Kind: String, Sendable {
        /// max |ours − ref| ≤ tolerance
        case absolute = "abs"
        /// ‖ours − ref‖ / ‖ref‖ ≤ tolerance
        case relative = "rel"
        /// ‖ours − ref‖ / max(‖ref‖, noise floor) ≤ tolerance: the reference gradient is at the
        /// level of Float32 rounding noise (zero by symmetry, e.g. a bias before a batch norm
        /// or a softmax), so only its size relative to the whole gradient is meaningful.
        case relativeToNoiseFloor = "rel~"
        /// max |ours − ref| ≤ 2·lr: a weight after an Adam step whose reference gradient is
        /// rounding noise; Adam's first step is ±lr·sign(noise), so only the bound is meaningful.
        case adamNoiseBound = "abs~"
        /// max_i |ours − ref| / tol_i ≤ 1 after a first Adam step, tol_i = stateTolerance plus
        /// what the gradient tolerance allows that step to move (`Parity+Adam.swift`).
        case adamStep = "absAdam"
        /// ‖ours − truth‖ / ‖truth‖ ≤ tolerance against the float64 rerun of the reference
        /// (`f64/…` tensors, see `Parity+Truth.swift`).
        case relativeToTruth = "rel64"
        /// The tensor misses `rel64` but its error is within float32's rounding floor of the
        /// whole gradient (a gradient zero by symmetry, or nearly): ‖ours − truth‖ / ‖whole
        /// truth gradient‖ ≤ `zeroGradientFraction`.
        case zeroByTruth = "zero64"
    }
    public var name: String
    public var maxAbs: Double
    public var relative: Double
    public var tolerance: Double
    public var kind: Kind
    /// For the truth kinds: the reference's own float32 error against its float64 truth
    /// (same measure as `relative`).
    public var referenceError: Double?
    public var ok: Bool {
        ((kind == .absolute || kind == .adamNoiseBound) ? maxAbs : relative) <= tolerance && maxAbs.isFinite
    }
}

/// Recomputes every output of a reference dump and compares (SPEC tolerances of the parity issue).
public enum Parity {
    public static let embeddingTolerance = 1e-5
    public static let lossTolerance = 1e-5
    public static let gradientTolerance = 1e-3
    public static let metaGradientTolerance = 1e-2
    public static let secondOrderTolerance = 5e-2
    public static let stateTolerance = 1e-5
    /// Relative gradient errors are taken against max(‖ref‖, this fraction of the whole
    /// reference gradient's norm). Below it a gradient is dominated by cancellation: e.g. the
    /// SGR eval meta output bias under the warm-up loss is a sum of 24 terms of ±0.06 that
    /// cancel to 2e-5, so the 1-ulp (6e-8) differences of the scores move it by 1e-3 relative
    /// (the reference's own value is 4e-4 away from the exact sum of its own scores).
    public static let noiseFloorFraction = 1e-4
    /// Gradients below this fraction of the whole are zero by symmetry (a bias before a batch
    /// norm or a softmax): 1e-11…5e-9 on the goldens, the smallest genuine one 1.8e-6. After
    /// Adam their weights move by ±lr·sign(noise) and are checked against that bound only.
    public static let zeroGradientFraction = 1e-6

    static func compare(_ name: String, _ ours: [Float], _ ref: [Float], _ tol: Double, _ kind: ParityRow.Kind,
                        floor: Double = 0) -> ParityRow {
        guard ours.count == ref.count else {
            return ParityRow(name: name + " (size \(ours.count) vs \(ref.count))", maxAbs: .infinity, relative: .infinity, tolerance: tol, kind: kind)
        }
        var maxAbs = 0.0, d2 = 0.0, r2 = 0.0
        for (a, b) in zip(ours, ref) {
            let d = Double(a) - Double(b)
            if !d.isFinite { maxAbs = .infinity }
            maxAbs = max(maxAbs, abs(d)); d2 += d * d; r2 += Double(b) * Double(b)
        }
        let strict = r2 > 0 ? (d2 / r2).squareRoot() : (d2 == 0 ? 0 : .infinity)
        if kind == .relative, strict > tol, r2.squareRoot() < floor {
            return ParityRow(name: name, maxAbs: maxAbs, relative: d2.squareRoot() / floor, tolerance: tol, kind: .relativeToNoiseFloor)
        }
        return ParityRow(name: name, maxAbs: maxAbs, relative: strict, tolerance: tol, kind: kind)
    }

    /// Pads `[B, l, d]` to `[B, L, d]` with zero rows.
    static func padMiddle(_ t: Tensor, to l: Int) -> [Float] {
        let b = t.shape[0], m = t.shape[1], d = t.shape[2]
        guard m < l else { return t.data }
        var r = [Float](repeating: 0, count: b * l * d)
        for i in 0..<b { for j in 0..<m { for c in 0..<d { r[(i * l + j) * d + c] = t.data[(i * m + j) * d + c] } } }
        return r
    }

    /// Runs every check the dump has data for.
    public static func run(_ dump: ReferenceDump, similarity makeSimilarity: (ModelConfig) -> SimilarityBackend = SimilarityBackends.standard,
                           finiteDifferenceScale: Float = MetaStep.defaultScale,
                           metaGradient: MetaGradientMethod = .exact) throws -> [ParityRow] {
        var rows: [ParityRow] = []
        let similarity = makeSimilarity(try dump.config())
        let model = try dump.model(similarity: similarity)
        model.finiteDifferenceScale = finiteDifferenceScale
        model.metaGradientMethod = metaGradient
        let c = model.config
        let training = dump.mode == "train"
        let batch = try dump.batch(c, images: "input/images", captions: "input/captions", lengths: "input/lengths")

        // Forward calls in the reference's order: embeddings, all-pairs scores, diagonal scores.
        let g = model.graph(training: training, updateStats: training, netGrads: true, metaGrads: true, dropout: nil)
        let v = g.encodeImages(batch.images), e = g.encodeCaptions(batch.captions)
        func check(_ name: String, _ ours: [Float], tol: Double, _ kind: ParityRow.Kind) throws {
            guard dump.has(name) else { return }
            rows.append(compare(name, ours, try dump.tensor(name).data, tol, kind))
        }
        func checkGrad(_ name: String, _ ours: [Float], _ floor: Double, truthWhole: Double? = nil, sumOfMagnitudes: Double? = nil) throws {
            guard dump.has(name) else { return }
            if let truthWhole, let row = try compareToTruth(dump, name, ours, gradientTolerance, whole: truthWhole,
                                                            sumOfMagnitudes: sumOfMagnitudes) {
                rows.append(row)
                return
            }
            rows.append(compare(name, ours, try dump.tensor(name).data, gradientTolerance, .relative, floor: floor))
        }
        try check("out/img_emb", g.tape.value(v), tol: embeddingTolerance, .absolute)
        if dump.has("out/cap_emb") {
            let ref = try dump.tensor("out/cap_emb")
            rows.append(compare("out/cap_emb", padMiddle(g.tape.tensor(e), to: ref.shape[1]), ref.data, embeddingTolerance, .absolute))
        }
        let lengths = batch.captions.lengths
        let sims = g.scores(images: v, captions: e, lengths: lengths, pairs: .all)
        let b = lengths.count
        let simsV = g.tape.value(sims)
        try check("out/sims", simsV, tol: embeddingTolerance, .absolute)
        try check("out/sims_diag", (0..<b).map { simsV[$0 * b + $0] }, tol: embeddingTolerance, .absolute)
        let warm = Losses.warmup(g.tape, scores: sims, margin: c.margin)
        let train = Losses.train(g.tape, scores: sims, margin: c.margin)
        let indiv = g.scores(images: v, captions: e, lengths: lengths, pairs: .diagonal)
        try check("out/sims_individual", g.tape.value(indiv), tol: embeddingTolerance, .absolute)
        try check("out/loss_warmup", g.tape.value(warm), tol: lossTolerance, .relative)
        try check("out/loss_train", g.tape.value(train), tol: lossTolerance, .relative)
        for (lossName, loss) in [("grad_warmup", warm), ("grad_train", train)] {
            g.tape.backward(loss)
            let ng = g.netGrads(), mg = g.metaGrads()
            let names = model.net.names.map { "\(lossName)/net/\($0)" } + model.meta.names.map { "\(lossName)/meta/\($0)" }
            let floor = try noiseFloor(dump, names)
            let whole = try truthNorm(dump, names)
            for n in model.net.names { try checkGrad("\(lossName)/net/\(n)", ng[n] ?? [], floor, truthWhole: whole) }
            let magnitudes = metaBiasMagnitudes(model.meta, scores: simsV, batch: b, warmup: lossName == "grad_warmup", margin: c.margin)
            for n in model.meta.names {
                try checkGrad("\(lossName)/meta/\(n)", mg[n] ?? [], floor, truthWhole: whole, sumOfMagnitudes: magnitudes[n])
            }
        }
        for (n, buf) in g.buffers.sorted(by: { $0.key < $1.key }) {
            try checkBuffers(&rows, dump, "after_forward/net/\(n)", buf)
        }
        guard dump.has("step/pseudo_loss") else { return rows }

        // One training step from the state after the forwards.
        let stepModel = try dump.model(similarity: similarity)
        stepModel.finiteDifferenceScale = finiteDifferenceScale
        stepModel.metaGradientMethod = metaGradient
        stepModel.net = try dump.parameters(stepModel.net, prefix: "step/net_state_before/")
        stepModel.buffers = try dump.buffers(c, prefix: "step/net_state_before/")
        let metaBatch = try MetaBatch(pairs: dump.batch(c, images: "step/meta_images", captions: "step/meta_captions",
                                                        lengths: "step/meta_lengths"),
                                      labels: dump.tensor("step/meta_labels").data)
        var report = StepReport()
        stepModel.trainStep(batch, meta: metaBatch, lr: try dump.float("main_lr"), metaLR: try dump.float("meta_lr"),
                            pseudoLR: try dump.float("lr"), report: &report)
        try check("step/pseudo_loss", [report.pseudoLoss], tol: lossTolerance, .relative)
        for n in model.net.names {
            try check("step/pseudo_param/\(n)", report.pseudoParams[n]?.data ?? [], tol: stateTolerance, .absolute)
        }
        try check("step/meta_out", report.metaOut, tol: embeddingTolerance, .absolute)
        try check("step/meta_loss", [report.metaLoss], tol: lossTolerance, .relative)
        var oursSecond: [Float] = [], refSecond: [Float] = []
        let directWhole = try truthNorm(dump, model.meta.names.map { "step/meta_grad_direct/\($0)" })
        let fullWhole = try truthNorm(dump, model.meta.names.map { "step/meta_grad_full/\($0)" })
        for n in model.meta.names {
            for (kind, ours, tol, whole) in [("direct", report.metaGradDirect[n], gradientTolerance, directWhole),
                                             ("full", report.metaGradFull[n], metaGradientTolerance, fullWhole)] {
                let name = "step/meta_grad_\(kind)/\(n)"
                if let whole, dump.has(name), let row = try compareToTruth(dump, name, ours ?? [], tol, whole: whole) {
                    rows.append(row)
                } else {
                    try check(name, ours ?? [], tol: tol, .relative)
                }
            }
            let f = report.metaGradFull[n] ?? [], d = report.metaGradDirect[n] ?? []
            oursSecond += zip(f, d).map { $0 - $1 }
            let rf = try dump.tensor("step/meta_grad_full/\(n)").data, rd = try dump.tensor("step/meta_grad_direct/\(n)").data
            refSecond += zip(rf, rd).map { $0 - $1 }
        }
        if let row = try compareSecondOrderToTruth(dump, model.meta.names, oursSecond, refSecond) {
            rows.append(row)
        } else {
            rows.append(compare("step/meta_grad (full − direct)", oursSecond, refSecond, secondOrderTolerance, .relative))
        }
        for n in model.meta.names {
            try check("step/meta_param_after/\(n)", report.metaAfter[n]?.data ?? [], tol: stateTolerance, .absolute)
        }
        try check("step/main_loss", [report.mainLoss], tol: lossTolerance, .relative)
        let mainNames = model.net.names.map { "step/main_grad/\($0)" }
        let mainFloor = try noiseFloor(dump, mainNames)
        let mainWhole = try truthNorm(dump, mainNames)
        var noiseParams = Set<String>()
        for n in model.net.names {
            try checkGrad("step/main_grad/\(n)", report.mainGrad[n] ?? [], mainFloor, truthWhole: mainWhole)
            if try isZeroGradient(dump, "step/main_grad/\(n)", floor: mainFloor, truthWhole: mainWhole) {
                noiseParams.insert(n)
            }
        }
        let mainLR = Double(try dump.float("main_lr"))
        for n in model.net.names {
            if noiseParams.contains(n) {
                try check("step/net_state_after/\(n)", stepModel.net[n]?.data ?? [], tol: 2 * mainLR, .adamNoiseBound)
            } else if dump.has("step/net_state_after/\(n)"), dump.has("step/main_grad/\(n)") {
                rows.append(compareAdamStep("step/net_state_after/\(n)", stepModel.net[n]?.data ?? [],
                                            try dump.tensor("step/net_state_after/\(n)").data,
                                            gradient: try dump.tensor("step/main_grad/\(n)").data,
                                            clipScale: try clipScale(dump, mainNames), lr: mainLR))
            }
        }
        for (n, buf) in stepModel.buffers.sorted(by: { $0.key < $1.key }) {
            try checkBuffers(&rows, dump, "step/net_state_after/\(n)", buf)
        }
        return rows
    }

    /// `noiseFloorFraction` of the norm of all the reference gradients listed.
    static func noiseFloor(_ dump: ReferenceDump, _ names: [String]) throws -> Double {
        var s = 0.0
        for n in names where dump.has(n) { let v = try dump.tensor(n).norm; s += v * v }
        return noiseFloorFraction * s.squareRoot()
    }

    static func checkBuffers(_ rows: inout [ParityRow], _ dump: ReferenceDump, _ prefix: String, _ b: BatchNormBuffers) throws {
        guard dump.has(prefix + ".running_mean") else { return }
        rows.append(compare(prefix + ".running_mean", b.runningMean, try dump.tensor(prefix + ".running_mean").data, stateTolerance, .absolute))
        rows.append(compare(prefix + ".running_var", b.runningVar, try dump.tensor(prefix + ".running_var").data, stateTolerance, .absolute))
        rows.append(compare(prefix + ".num_batches_tracked", [Float(b.numBatchesTracked)],
                            try dump.tensor(prefix + ".num_batches_tracked").data, 0, .absolute))
    }

    /// The table `mscn parity` prints.
    public static func table(_ rows: [ParityRow]) -> String {
        var s = "tensor\tmax_abs\trel\ttol\tok\n"
        for r in rows {
            let ref = r.referenceError.map { "\tref32 \(String(format: "%.3e", $0))" } ?? ""
            s += "\(r.name)\t\(String(format: "%.3e", r.maxAbs))\t\(String(format: "%.3e", r.relative))\t\(r.kind.rawValue) \(String(format: "%.1e", r.tolerance))\t\(r.ok ? "ok" : "FAIL")\(ref)\n"
        }
        return s
    }
}
