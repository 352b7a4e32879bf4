import Foundation

/// Group states of dead tapes, kept for the next forward: a training step allocates hundreds
/// of MB of activations, and fresh pages cost a page fault and a kernel zeroing each (≈10% of
/// a step at d=256 in a profile). Bounded by `limitBytes`; thread-safe (tapes die anywhere).
final class StatePool {
    struct Key: Equatable {
        var regions: Int, dim: Int, simDim: Int, module: SimilarityModule, lean: Bool
    }

    private let lock = NSLock()
    private var free: [(key: Key, state: GroupState)] = []
    private var bytes = 0
    var limitBytes: Int

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// A pooled state at least as large as `need`, or a new one with some headroom (caption
    /// lengths vary between batches, so an exact fit would rarely be reused).
    func take(_ need: GroupCapacity, _ key: Key) -> GroupState {
        lock.lock()
        if let i = free.firstIndex(where: { $0.key == key && $0.state.capacity.covers(need) }) {
            let st = free.remove(at: i).state
            bytes -= st.byteCount
            lock.unlock()
            return st
        }
        lock.unlock()
        var cap = need
        cap.words += need.words / 8
        cap.pairs += need.pairs / 8
        cap.edges += need.edges / 4
        return GroupState(cap, regions: key.regions, dim: key.dim, simDim: key.simDim, module: key.module, lean: key.lean)
    }

    func give(_ states: [GroupState], _ key: Key) {
        lock.lock()
        defer { lock.unlock() }
        for st in states where bytes + st.byteCount <= limitBytes {
            free.append((key, st))
            bytes += st.byteCount
        }
    }

    func removeAll() {
        lock.lock()
        free = []
        bytes = 0
        lock.unlock()
    }
}
