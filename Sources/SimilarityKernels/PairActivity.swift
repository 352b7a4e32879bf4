/// Which pairs of a group carry any gradient in a backward pass.
///
/// A hinge that is not active gives its pair an exactly zero score gradient, and the pair's node
/// gradients are then zero in every round: its per-pair work (edge gradients, norm backwards,
/// the words' elementwise terms) would only add zeros. Under the hardest-negative losses of the
/// rounds 6.7% of a built-in batch's pairs carried gradient (a round of net A at noise 0.7;
/// 93% under the warm-up's sum of hinges), so the backward skips the others' per-pair work. The
/// group's products keep their shapes (a product's rounding depends on them); those summing over
/// rows (the weight gradients) leave out aligned runs of zero rows where OpenBLAS's kernels give
/// the same bits without them (`sgemmAddSkippingZeroDepth`), and those with a row per node (the
/// data gradients) leave out whole kernel tiles of zero rows (`sgemm`'s `zeroRowsInA`). Off, all
/// run in full.
final class PairActivity {
    private let flags: UnsafeMutablePointer<Bool>
    let capacity: Int
    /// False: every pair is treated as active (the tests compare both ways).
    nonisolated(unsafe) static var skipsInactive = true

    init(_ capacity: Int) {
        self.capacity = max(capacity, 1)
        flags = .allocate(capacity: self.capacity)
        flags.initialize(repeating: true, count: self.capacity)
    }

    deinit { flags.deallocate() }

    @inline(__always)
    subscript(_ j: Int) -> Bool { flags[j] }

    /// From the group's output gradients `dOut` [pairs, s].
    func mark(outputs dOut: UnsafePointer<Float>, pairs n: Int, simDim s: Int) {
        precondition(n <= capacity, "PairActivity: \(n) pairs, room for \(capacity)")
        for j in 0..<n { flags[j] = !Self.skipsInactive || !unsafeAllZero(dOut + j * s, s) }
    }

    /// From node-row gradients `dS` [N, s]: a pair is active when a row of its words or its
    /// global row is nonzero.
    func mark(_ g: PairGroup, _ layout: PairLayout, rows dS: UnsafePointer<Float>, simDim s: Int) {
        precondition(g.pairCount <= capacity, "PairActivity: \(g.pairCount) pairs, room for \(capacity)")
        for c in g.captionLo..<g.captionHi {
            let j = c - g.captionLo
            flags[j] = !Self.skipsInactive
                || !unsafeAllZero(dS + layout.localWord(g, c) * s, layout.lengths[c] * s)
                || !unsafeAllZero(dS + (g.words + j) * s, s)
        }
    }
}

/// Whether all `n` values are zero (either sign).
@inline(__always)
func unsafeAllZero(_ x: UnsafePointer<Float>, _ n: Int) -> Bool {
    for i in 0..<n where x[i] != 0 { return false }
    return true
}
