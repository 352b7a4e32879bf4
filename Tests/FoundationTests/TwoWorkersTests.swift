import Foundation
import TwoWorkers
import XCTest

final class TwoWorkersTests: XCTestCase {
    /// Every item exactly once, in order, for the counts where the dealing has edges (none, one,
    /// odd, even); a class result checks that each slot holds its own, initialised value.
    func testMapReturnsEveryItemOnceInOrder() {
        final class Box { let value: Int; init(_ value: Int) { self.value = value } }
        for count in [0, 1, 2, 3, 64, 101] {
            let calls = Counter()
            let out = TwoWorkers.map(count: count) { i -> Box in calls.add(); return Box(i * i) }
            XCTAssertEqual(out.map(\.value), (0..<count).map { $0 * $0 }, "count \(count)")
            XCTAssertEqual(calls.value, count, "count \(count)")
        }
    }

    /// Item i runs on worker i % 2: each worker's items alternate with the other's. (libdispatch
    /// may run both workers on the calling thread when no other thread comes in time; the pattern
    /// is then invisible, and only the count of threads is checked.)
    func testItemsAreDealtAlternately() {
        let count = 200
        let threads = UnsafeMutablePointer<UInt>.allocate(capacity: count)
        defer { threads.deallocate() }
        TwoWorkers.forEach(count: count) { i in
            threads[i] = UInt(pthread_self())
            usleep(200)  // long enough that one worker cannot take every item before the other starts
        }
        let ids = Array(UnsafeBufferPointer(start: threads, count: count))
        XCTAssertLessThanOrEqual(Set(ids).count, 2, "at most two workers")
        guard Set(ids).count == 2 else { return }
        for i in 2..<count { XCTAssertEqual(ids[i], ids[i - 2], "item \(i) and item \(i - 2) ran on different workers") }
        XCTAssertNotEqual(ids[0], ids[1], "items 0 and 1 ran on one worker")
    }

    /// Results equal the serial loop's for work whose cost differs between items.
    func testResultsEqualTheSerialLoop() {
        func work(_ i: Int) -> Double { (0..<(i % 7) * 500).reduce(Double(i)) { $0 + sin(Double($1)) } }
        XCTAssertEqual(TwoWorkers.map(count: 77, work), (0..<77).map(work))
    }
}

/// A thread-safe call count.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
