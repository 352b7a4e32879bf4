import Dispatch
import Foundation

/// Compresses batches of frames on every core. Each slot owns a zstd context and an output
/// buffer for one frame, so a batch needs no locks and memory stays at `width` frames.
final class ParallelCompressor {
    /// Frames per batch: a few per core, so one slow frame does not idle the other cores long.
    let width: Int
    private let slots: [Slot]

    private final class Slot {
        let level: Int32
        let capacity: Int
        private var context: ZstdCompressor?
        private var buffer: UnsafeMutableRawBufferPointer?
        var result: Result<UnsafeRawBufferPointer, Error> = .success(UnsafeRawBufferPointer(start: nil, count: 0))

        init(level: Int32, capacity: Int) {
            self.level = level
            self.capacity = capacity
        }

        deinit { buffer?.deallocate() }

        func run(_ frame: UnsafeRawBufferPointer) {
            result = Result {
                if context == nil { context = ZstdCompressor(level: level) }
                if buffer == nil { buffer = .allocate(byteCount: capacity, alignment: 64) }
                guard let context, let buffer else { throw ZstdProblem("cannot create a zstd context") }
                let n = try context.compress(frame, into: buffer)
                return UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            }
        }
    }

    init(level: Int32, frameBytes: Int) {
        width = min(16, max(2, 2 * ProcessInfo.processInfo.activeProcessorCount))
        let capacity = Zstd.bound(frameBytes)
        slots = (0..<width).map { _ in Slot(level: level, capacity: capacity) }
    }

    /// Compresses up to `width` frames; the results stay valid until the next call.
    func compress(_ frames: [UnsafeRawBufferPointer]) throws -> [UnsafeRawBufferPointer] {
        precondition(frames.count <= width, "batch of \(frames.count) frames exceeds \(width) slots")
        if frames.count == 1 {
            slots[0].run(frames[0])
        } else {
            let slots = self.slots
            DispatchQueue.concurrentPerform(iterations: frames.count) { i in slots[i].run(frames[i]) }
        }
        return try (0..<frames.count).map { try slots[$0].result.get() }
    }
}
