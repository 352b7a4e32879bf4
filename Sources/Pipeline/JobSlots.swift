import Foundation

/// A count of stages allowed to run at once, shared by every runner of a sweep, so `-j N` bounds
/// the whole sweep and not each grid point. Also remembers the most ever in use.
public final class JobSlots: @unchecked Sendable {
    private let condition = NSCondition()
    private var free: Int
    private var inUse = 0
    private var most = 0

    public init(_ count: Int) { free = max(1, count) }

    public func acquire() {
        condition.lock()
        while free == 0 { condition.wait() }
        free -= 1
        inUse += 1
        most = max(most, inUse)
        condition.unlock()
    }

    public func release() {
        condition.lock()
        free += 1
        inUse -= 1
        condition.signal()
        condition.unlock()
    }

    /// The largest number of slots held at the same time so far.
    public var peak: Int {
        condition.lock()
        defer { condition.unlock() }
        return most
    }
}
