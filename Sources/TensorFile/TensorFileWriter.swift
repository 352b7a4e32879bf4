import Foundation

/// Writes a tensor file atomically: bytes go to a temporary name in the same folder and are
/// moved into place by `finish()`. A writer dropped before `finish()` removes its temporary.
///
/// Memory stays bounded whatever the tensor size: whole frames are compressed straight from the
/// caller's buffer, partial frames are staged, and at most a few frames per core are in flight.
/// Frames compress on every core while the previous batch is written by a serial queue.
public final class TensorFileWriter {
    public let path: String
    public let compressionLevel: Int32
    /// Raw bytes per frame (tests pass tiny frames to get many of them cheaply).
    let frameBytes: Int
    private var file: AtomicFile?
    private var offset = Layout.dataStart
    private var records: [TensorRecord] = []
    private var names = Set<String>()
    private var metadata: [String: String]
    private let compressor: ParallelCompressor
    /// Set once bytes of an unfinished tensor reached the file: the file cannot be finished.
    private var failure: String?

    private var openRecord: TensorRecord?
    private var openExpected = 0
    private var openAccepted = 0

    // Frames waiting for compression, in file order; owned ones are staging buffers to recycle.
    private var pending: [UnsafeRawBufferPointer] = []
    private var pendingOwned: [UnsafeMutableRawPointer] = []
    private var staging: UnsafeMutableRawPointer?
    private var stagingFill = 0
    private var allBuffers: [UnsafeMutableRawPointer] = []
    private var freeBuffers: [UnsafeMutableRawPointer] = []

    // Background writes: batch k is written while batch k+1 compresses into the other slot set.
    private let io = DispatchQueue(label: "TensorFileWriter.io")
    private let writing = [DispatchGroup(), DispatchGroup()]
    private var nextSet = 0
    private let ioError = ErrorSlot()

    /// zstd level 1: on float features (ReLU-like, full-mantissa) level 3 shrinks files only
    /// ~3% more (ratio 2.05 vs 1.99) but compresses 1.5–3× slower, and writes are on the
    /// critical path of every stage.
    public static let defaultCompressionLevel = 1

    public convenience init(path: String, metadata: [String: String] = [:],
                            compressionLevel: Int = TensorFileWriter.defaultCompressionLevel) throws {
        try self.init(path: path, metadata: metadata, compressionLevel: compressionLevel,
                      frameBytes: Layout.defaultFrameBytes)
    }

    init(path: String, metadata: [String: String], compressionLevel: Int, frameBytes: Int) throws {
        guard (1...19).contains(compressionLevel) else {
            throw TensorFileError(path, "compression level \(compressionLevel) outside 1...19")
        }
        guard (1...Layout.maxFrameBytes).contains(frameBytes) else {
            throw TensorFileError(path, "frame size \(frameBytes) outside 1...\(Layout.maxFrameBytes)")
        }
        self.path = path
        self.metadata = metadata
        self.compressionLevel = Int32(compressionLevel)
        self.frameBytes = frameBytes
        compressor = ParallelCompressor(level: Int32(compressionLevel), frameBytes: frameBytes)
        let f = try AtomicFile(path: path)
        try f.write(Layout.headMagic)
        file = f
    }

    deinit {
        // Background writes hold the file's descriptor: let them end before closing it.
        for g in writing { g.wait() }
        file?.abandon()
        for b in allBuffers { b.deallocate() }
    }

    public func setMetadata(_ key: String, _ value: String) { metadata[key] = value }

    /// Adds a whole tensor.
    public func write(_ t: StoredTensor) throws {
        try beginTensor(name: t.name, dtype: t.dtype, shape: t.shape)
        try t.bytes.withUnsafeBytes { try append($0) }
        try endTensor()
    }

    /// Starts a tensor whose C-order bytes arrive through `append` (for data larger than memory).
    public func beginTensor(name: String, dtype: DType, shape: [Int]) throws {
        try checkUsable()
        if let r = openRecord { throw TensorFileError(path, "tensor \(r.name) is still open") }
        guard !names.contains(name) else { throw TensorFileError(path, "duplicate tensor name \(name)") }
        guard shape.count <= Layout.maxRank else {
            throw TensorFileError(path, "\(name): rank \(shape.count) exceeds \(Layout.maxRank)")
        }
        var total = dtype.size
        for d in shape {
            guard d >= 0 else { throw TensorFileError(path, "\(name): negative dimension in \(shape)") }
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o else { throw TensorFileError(path, "\(name): shape \(shape) overflows") }
            total = p
        }
        openRecord = TensorRecord(name: name, dtype: dtype, shape: shape, offset: offset,
                                  frameBytes: frameBytes, frames: [])
        openExpected = total
        openAccepted = 0
    }

    /// The next bytes of the open tensor, in C order; any split into calls gives the same file.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try checkUsable()
        guard let r = openRecord else { throw TensorFileError(path, "append without beginTensor") }
        guard bytes.count <= openExpected - openAccepted else {
            throw TensorFileError(path, "\(r.name): more bytes than its shape \(r.shape) of \(r.dtype.rawValue) holds")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        openAccepted += bytes.count
        do {
            var at = 0
            if stagingFill > 0 { at = try stage(base, bytes.count) }
            var borrowed = false
            while bytes.count - at >= frameBytes {
                pending.append(UnsafeRawBufferPointer(start: base + at, count: frameBytes))
                borrowed = true
                at += frameBytes
                if pending.count == compressor.width { try flush() }
            }
            // The caller's memory is only ours until we return.
            if borrowed { try flush() }
            if at < bytes.count { at += try stage(base + at, bytes.count - at) }
        } catch {
            failure = "\(error)"
            throw error
        }
    }

    public func endTensor() throws {
        try checkUsable()
        guard let r = openRecord else { throw TensorFileError(path, "endTensor without beginTensor") }
        do {
            try queueStaging()
            try flush()
            try drain()
        } catch {
            failure = "\(error)"
            throw error
        }
        guard openAccepted == openExpected else {
            failure = "\(r.name) is incomplete"
            throw TensorFileError(path, "\(r.name): got \(openAccepted) bytes, shape \(r.shape) of \(r.dtype.rawValue) needs \(openExpected)")
        }
        if let done = openRecord { records.append(done) }
        names.insert(r.name)
        openRecord = nil
    }

    /// Writes the footer and trailer, syncs and moves the file into place.
    public func finish() throws {
        try checkUsable()
        if let r = openRecord { throw TensorFileError(path, "tensor \(r.name) was not ended") }
        guard let f = file else { throw TensorFileError(path, "writer already finished") }
        file = nil
        do {
            try drain()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let footer = [UInt8](try encoder.encode(Footer(version: Layout.version, metadata: metadata, tensors: records)))
            var tail = footer
            tail += LittleEndian.bytes(UInt64(footer.count))
            tail += LittleEndian.bytes(CRC32C.checksum(footer))
            tail += LittleEndian.bytes(UInt32(Layout.version))
            tail += Layout.tailMagic
            try f.write(tail)
            try f.commit()
        } catch {
            f.abandon()
            throw error as? TensorFileError ?? TensorFileError(path, "cannot write the footer (\(error))")
        }
    }

    private func checkUsable() throws {
        if let failure { throw TensorFileError(path, "writer unusable after an earlier error (\(failure))") }
        if file == nil { throw TensorFileError(path, "writer already finished") }
    }

    /// Copies into the staging frame; returns how many bytes it took.
    private func stage(_ src: UnsafeRawPointer, _ count: Int) throws -> Int {
        let buffer: UnsafeMutableRawPointer
        if let s = staging {
            buffer = s
        } else if let b = freeBuffers.popLast() {
            buffer = b
        } else {
            buffer = .allocate(byteCount: frameBytes, alignment: 64)
            allBuffers.append(buffer)
        }
        staging = buffer
        let n = min(frameBytes - stagingFill, count)
        (buffer + stagingFill).copyMemory(from: src, byteCount: n)
        stagingFill += n
        if stagingFill == frameBytes { try queueStaging() }
        return n
    }

    private func queueStaging() throws {
        guard let s = staging, stagingFill > 0 else { return }
        pending.append(UnsafeRawBufferPointer(start: s, count: stagingFill))
        pendingOwned.append(s)
        staging = nil
        stagingFill = 0
        if pending.count == compressor.width { try flush() }
    }

    /// Compresses every pending frame on all cores and queues them for writing, in order.
    private func flush() throws {
        guard !pending.isEmpty else { return }
        guard let f = file else { throw TensorFileError(path, "writer already finished") }
        var i = 0
        while i < pending.count {
            let batch = Array(pending[i..<min(i + compressor.width, pending.count)])
            let set = nextSet
            nextSet ^= 1
            writing[set].wait()
            if let e = ioError.value { throw e }
            let packed: [UnsafeRawBufferPointer]
            do { packed = try compressor.compress(batch, set: set) } catch let e as ZstdProblem {
                throw TensorFileError(path, e.message)
            }
            for p in packed {
                openRecord?.frames.append(p.count)
                offset += p.count
            }
            let job = WriteJob(file: f, frames: packed, errors: ioError)
            writing[set].enter()
            io.async { [writing] in
                defer { writing[set].leave() }
                job.run()
            }
            i += batch.count
        }
        pending.removeAll(keepingCapacity: true)
        freeBuffers += pendingOwned
        pendingOwned.removeAll(keepingCapacity: true)
    }

    /// Waits for queued writes and reports the first one that failed.
    private func drain() throws {
        for g in writing { g.wait() }
        if let e = ioError.value { throw e }
    }
}

/// One batch for the background writer. The slot buffers it points to are not touched again
/// until the writer waits for this job, hence the unchecked conformance.
private struct WriteJob: @unchecked Sendable {
    let file: AtomicFile
    let frames: [UnsafeRawBufferPointer]
    let errors: ErrorSlot

    func run() {
        guard errors.value == nil else { return }
        do { for p in frames { try file.write(p) } } catch { errors.set(error) }
    }
}

/// An error recorded by the background writer, read by the caller's thread.
private final class ErrorSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?

    var value: Error? {
        lock.lock()
        defer { lock.unlock() }
        return error
    }

    func set(_ e: Error) {
        lock.lock()
        if error == nil { error = e }
        lock.unlock()
    }
}
