import Dispatch
import Foundation

/// Compresses batches of frames on every core. Each slot owns a zstd context and an output
/// buffer for one frame, so a batch needs no locks. Slots come in two sets, so one batch can
/// be written out while the next is compressed; memory stays at `2 × width` compressed frames.
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
        slots = (0..<(2 * width)).map { _ in Slot(level: level, capacity: capacity) }
    }

    /// Compresses up to `width` frames with slot set `set` (0 or 1); the results stay valid
    /// until that set is used again.
    func compress(_ frames: [UnsafeRawBufferPointer], set: Int) throws -> [UnsafeRawBufferPointer] {
        precondition(frames.count <= width && (0...1).contains(set), "batch of \(frames.count) frames, set \(set)")
        let slots = Array(self.slots[(set * width)..<(set * width + frames.count)])
        if frames.count == 1 {
            slots[0].run(frames[0])
        } else {
            DispatchQueue.concurrentPerform(iterations: frames.count) { i in slots[i].run(frames[i]) }
        }
        return try slots.map { try $0.result.get() }
    }
}
