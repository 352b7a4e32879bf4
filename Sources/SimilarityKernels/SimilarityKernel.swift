/// Saved activations of one forward, read by `SimilarityKernel.backward`.
public final class SimilarityTape {
    let layout: PairLayout
    let inputs: PackedInputs
    let states: [GroupState]
    let filtration: FiltrationStats?
    let pairTotal: Int
    private let pool: StatePool
    private let poolKey: StatePool.Key

    init(layout: PairLayout, inputs: PackedInputs, states: [GroupState], filtration: FiltrationStats?,
         pool: StatePool, poolKey: StatePool.Key) {
        self.layout = layout
        self.inputs = inputs
        self.states = states
        self.filtration = filtration
        self.pool = pool
        self.poolKey = poolKey
        pairTotal = layout.pairTotal
    }

    deinit { pool.give(states, poolKey) }

    /// Number of pairs the forward scored (rows of `simVectors`).
    public var pairCount: Int { pairTotal }

    /// Bytes held by the saved activations (inputs included).
    public var retainedBytes: Int {
        let floats = inputs.images.count + inputs.words.count + inputs.imageGlobal.count + inputs.captionGlobal.count
        return floats * MemoryLayout<Float>.size + states.reduce(0) { $0 + $1.byteCount }
    }
}

/// The fused SGRAF pair similarity (SPEC §4 steps 1–3) with its hand-written backward.
///
/// Work is cut into groups (one image against a run of captions whose words are contiguous),
/// each group's products run as GEMMs, and groups are split over a fixed number of workers
/// with OpenBLAS held to one thread meanwhile: results do not depend on the core count.
///
/// Contract for callers (the autodiff engine wraps this as one op):
/// - `simVectors` row `p` is pair `p` (`.all`: `p = i·Bc + j`, image i with caption j;
///   `.diagonal`: `p = i`). SGR's vector is node 0 after the last round (ReLU output, not
///   normalised); SAF's is `l2norm(αᵀS)`.
/// - `backward` returns the gradient of `Σ dSimVectors ⊙ simVectors` (nothing accumulated
///   into existing buffers); pass the same `params` the forward used (after its running-stat
///   update; running statistics do not enter the gradient). Caption padding rows get 0.
/// - A tape may be used for several backwards; releasing it hands its buffers to the kernel's
///   pool for the next forward. No double backward: second-order terms need differences of
///   gradients (SPEC §6 allows central differences).
/// - Shapes are checked with preconditions (callers build them; a mismatch is a programming
///   error, not bad data).
public final class SimilarityKernel {
    public let dim: Int
    public let simDim: Int
    public let module: SimilarityModule
    /// Worker threads (fixed, so the summation order is the same on every machine).
    public var workers: Int = 2
    /// Threads that run the workers at once (1 runs them in turn); results do not depend on it.
    /// Defaults to `MSCN_THREADS` when set, else to `workers`.
    public var threads: Int = environmentThreads ?? 2
    /// Upper bound on a group's word rows in all-pairs mode (bounds per-group buffers).
    public var maxGroupWords: Int = 1024
    /// Activations of released tapes are kept up to this many bytes for later forwards
    /// (saves page faults every training step); `releaseCachedBuffers()` frees them.
    public var cachedBufferLimitBytes: Int {
        get { pool.limitBytes }
        set { pool.limitBytes = newValue }
    }
    private let pool = StatePool(limitBytes: 1 << 30)
    /// A taped forward whose activations would take more than this many bytes, and whose
    /// recomputation costs at most `recomputeMaxShare` of its own work, keeps neither the attended
    /// contexts `u` [words, d] nor SGR's inner-round messages: the backward recomputes them with
    /// the forward's own calls, so every result is bit-identical. At the paper's sizes this saves
    /// about 40% of the tape for about 5% of a forward (2% of a step); at d = 256, s = 64 the share
    /// would be 16% and the tape stays whole.
    public var recomputeAboveBytes: Int = 256 << 20
    public var recomputeMaxShare: Double = 0.06

    /// Frees the activations kept from released tapes.
    public func releaseCachedBuffers() { pool.removeAll() }

    public init(dim: Int, simDim: Int, module: SimilarityModule) {
        precondition(dim > 0 && simDim > 0, "SimilarityKernel: dim and simDim must be positive")
        if case .sgr(let steps) = module { precondition(steps >= 1, "SimilarityKernel: SGR needs at least one step") }
        self.dim = dim
        self.simDim = simDim
        self.module = module
    }

    private var isSAF: Bool { module == .saf }

    /// Scores `pairs` and returns their similarity vectors `[P, s]` in pair order.
    ///
    /// `training`: SAF's batch norm uses per-caption batch statistics and updates
    /// `params.safBN`'s running statistics once per caption in caption order; otherwise it uses
    /// the running statistics. SGR ignores the flag. `keepTape: false` keeps no activations
    /// beyond one group per worker (inference over large shards).
    public func forward(_ x: SimilarityInputs, params: inout SimilarityParams, pairs: PairSet,
                        training: Bool, keepTape: Bool) -> (simVectors: [Float], tape: SimilarityTape?) {
        let problems = x.shapeProblems()
        precondition(problems.isEmpty, "SimilarityKernel.forward: " + problems.joined(separator: "; "))
        precondition(x.dim == dim, "SimilarityKernel.forward: inputs have dim \(x.dim), kernel \(dim)")
        if pairs == .diagonal {
            precondition(x.imageCount == x.captionCount, "SimilarityKernel.forward: diagonal pairs need as many images as captions")
        }
        let s = simDim
        let layout = PairLayout(lengths: x.lengths, imageCount: x.imageCount, pairs: pairs, maxGroupWords: maxGroupWords)
        let packed = PackedParams(params, module: module, dim: dim, simDim: s)
        let inputs = PackedInputs(x, layout: layout)
        let shape = AlignmentShape(regions: x.regions, dim: dim, simDim: s)
        let P = layout.pairTotal
        let out = FloatBuffer(unzeroed: P * s)  // every pair's row is written exactly once
        let groups = layout.groups
        let twoPass = isSAF && training
        let retain = keepTape || twoPass
        let cap = GroupCapacity(maxOf: layout)
        let lean = retain && recomputeShare(layout, regions: x.regions) <= recomputeMaxShare
            && tapeBytes(layout, regions: x.regions, lean: false) > recomputeAboveBytes
        let nw = max(1, min(workers, groups.count))
        // Retained states: one per group (the tape owns them); otherwise one per worker, reused.
        let stateBox = StateBox(count: retain ? groups.count : 0)
        var evalStats: FiltrationStats?
        if isSAF && !training, let bn = params.safBN {
            let inv = 1 / (bn.runningVar[0] + bn.eps).squareRoot()
            evalStats = FiltrationStats(mean: [Float](repeating: bn.runningMean[0], count: x.captionCount),
                                        invStd: [Float](repeating: inv, count: x.captionCount),
                                        count: [], training: false)
        }
        let module = self.module, pool = self.pool
        let key = StatePool.Key(regions: x.regions, dim: dim, simDim: s, module: module, lean: lean)
        parallelWorkers(nw, threads: threads) { w in
            let scratch = ForwardScratch(cap, dim: dim, simDim: s, lean: lean)
            let shared = retain ? nil : pool.take(cap, key)
            defer { if let shared { pool.give([shared], key) } }
            for gi in Self.range(worker: w, of: nw, count: groups.count) {
                let g = groups[gi]
                let st = shared ?? pool.take(GroupCapacity(g, layout), key)
                if retain { stateBox.set(gi, st) }
                alignmentForward(g, layout, inputs, packed, st, shape: shape, scratch: scratch)
                switch module {
                case .sgr:
                    graphForward(g, layout, packed, st, simDim: s, scratch: scratch)
                    Self.scatter(g, layout, st, out, s)
                case .saf:
                    filtrationLogits(g, packed, st, simDim: s)
                    if let stats = evalStats {
                        filtrationFinish(g, layout, packed, st, stats: stats, simDim: s)
                        Self.scatter(g, layout, st, out, s)
                    }
                }
            }
        }
        let states = stateBox.states()
        var filtration = evalStats
        if twoPass, var bn = params.safBN {
            let (stats, unbiased, mean) = filtrationBatchStats(layout, states, eps: bn.eps)
            // Running statistics move once per caption, in caption order, as the reference's loop does.
            var rm = Double(bn.runningMean[0]), rv = Double(bn.runningVar[0])
            let mom = Double(bn.momentum)
            for c in 0..<x.captionCount {
                rm = Double(Float((1 - mom) * rm + mom * mean[c]))
                rv = Double(Float((1 - mom) * rv + mom * unbiased[c]))
                bn.numBatchesTracked += 1
            }
            bn.runningMean[0] = Float(rm)
            bn.runningVar[0] = Float(rv)
            params.safBN = bn
            filtration = stats
            parallelWorkers(nw, threads: threads) { w in
                for gi in Self.range(worker: w, of: nw, count: groups.count) {
                    filtrationFinish(groups[gi], layout, packed, states[gi], stats: stats, simDim: s)
                    Self.scatter(groups[gi], layout, states[gi], out, s)
                }
            }
        }
        let tape = keepTape ? SimilarityTape(layout: layout, inputs: inputs, states: states, filtration: filtration,
                                             pool: pool, poolKey: key) : nil
        if !keepTape { pool.give(states, key) }
        return (out.array, tape)
    }

    /// Bytes the states of a taped forward over `layout` would take (before the pool's headroom).
    func tapeBytes(_ layout: PairLayout, regions: Int, lean: Bool) -> Int {
        layout.groups.reduce(0) { sum, g in
            sum + StateSizes(GroupCapacity(g, layout), regions: regions, dim: dim, simDim: simDim, module: module, lean: lean).total
        } * MemoryLayout<Float>.size
    }

    /// Multiply-adds a lean tape's backward adds, as a share of the forward's, per word row: the
    /// context product (R·d) and the inner rounds' messages (about L+1 nodes of s each), against
    /// the region and context products, Linear_loc and SGR's three s×s products per round.
    func recomputeShare(_ layout: PairLayout, regions R: Int) -> Double {
        let steps: Int
        if case .sgr(let k) = module { steps = k } else { steps = 0 }
        let nodes = Double(layout.wordOffset[layout.captionCount]) / Double(max(layout.captionCount, 1)) + 1
        let d = Double(dim), s = Double(simDim), r = Double(R)
        let extra = r * d + Double(max(steps - 1, 0)) * s * nodes
        let forward = 2 * r * d + s * d + Double(3 * steps) * s * s
        return extra / forward
    }

    static func range(worker w: Int, of n: Int, count: Int) -> Range<Int> {
        (w * count / n)..<((w + 1) * count / n)
    }

    static func scatter(_ g: PairGroup, _ layout: PairLayout, _ st: GroupState, _ out: FloatBuffer, _ s: Int) {
        for c in g.captionLo..<g.captionHi {
            (out.p + layout.pairIndex(image: g.image, caption: c) * s).update(from: st.out.p + (c - g.captionLo) * s, count: s)
        }
    }
}

/// Slots written by distinct workers at distinct indices.
final class StateBox {
    private let slots: UnsafeMutablePointer<GroupState?>
    private let count: Int
    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(count, 1))
        slots.initialize(repeating: nil, count: max(count, 1))
    }
    deinit {
        slots.deinitialize(count: max(count, 1))
        slots.deallocate()
    }
    func set(_ i: Int, _ st: GroupState) { slots[i] = st }
    func states() -> [GroupState] { (0..<count).compactMap { slots[$0] } }
}
