import Dispatch

/// Independent items of uneven cost (image decoding, rendering, tokenising, feature extraction)
/// on the machine's two cores.
///
/// Items are dealt alternately, item i to worker i % 2, rather than in two halves: neighbouring
/// items cost about the same (one image size, one caption file), so each worker gets half the work
/// even when the costs drift along the list. Each item is computed by the same code whichever
/// worker runs it, so results equal the serial loop's.
public enum TwoWorkers {
    /// Calls `body(i)` once for every i in `0..<count`. `body` must write only what belongs to item i.
    public static func forEach(count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for i in stride(from: worker, to: count, by: 2) { body(i) }
        }
    }

    /// `(0..<count).map(transform)`, computed as `forEach` deals the items.
    public static func map<T>(count: Int, _ transform: (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let slots = UnsafeMutablePointer<T>.allocate(capacity: count)
        defer { slots.deallocate() }
        forEach(count: count) { i in (slots + i).initialize(to: transform(i)) }
        let results = Array(UnsafeBufferPointer(start: slots, count: count))
        slots.deinitialize(count: count)
        return results
    }
}
