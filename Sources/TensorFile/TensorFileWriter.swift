import Foundation

/// Writes a tensor file atomically: bytes go to a temporary name in the same folder and are
/// renamed into place by `finish()`. A writer dropped before `finish()` removes its temporary.
public final class TensorFileWriter {
    public let path: String
    public let compressionLevel: Int32
    private let tempPath: String
    private var handle: FileHandle?
    private var offset = Layout.headMagic.count
    private var records: [TensorRecord] = []
    private var metadata: [String: String]
    private var open: (record: TensorRecord, rowBytes: Int, expected: Int, written: Int, pending: [UInt8])?
    private var finished = false

    public init(path: String, metadata: [String: String] = [:], compressionLevel: Int = 3) throws {
        self.path = path
        self.metadata = metadata
        self.compressionLevel = Int32(compressionLevel)
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        tempPath = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: tempPath, contents: Data(Layout.headMagic)) else {
            throw TensorFileError(path, "cannot create a file in \(dir)")
        }
        handle = FileHandle(forWritingAtPath: tempPath)
        guard let h = handle else { throw TensorFileError(path, "cannot open \(tempPath) for writing") }
        h.seekToEndOfFile()
    }

    deinit {
        if !finished {
            try? handle?.close()
            unlink(tempPath)
        }
    }

    public func setMetadata(_ key: String, _ value: String) { metadata[key] = value }

    /// Adds a whole tensor.
    public func write(_ t: StoredTensor) throws {
        try beginTensor(name: t.name, dtype: t.dtype, shape: t.shape)
        try t.bytes.withUnsafeBytes { try append($0) }
        try endTensor()
    }

    /// Starts a tensor whose bytes arrive through `append` (for data larger than memory).
    public func beginTensor(name: String, dtype: DType, shape: [Int]) throws {
        guard open == nil else { throw TensorFileError(path, "tensor \(open!.record.name) is still open") }
        guard !records.contains(where: { $0.name == name }) else {
            throw TensorFileError(path, "duplicate tensor name \(name)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorFileError(path, "\(name): negative dimension") }
        let rowElements = shape.dropFirst().reduce(1, *)
        let total = shape.reduce(1, *) * dtype.size
        open = (TensorRecord(name: name, dtype: dtype, shape: shape, frames: []),
                max(rowElements * dtype.size, 1), total, 0, [])
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var o = open else { throw TensorFileError(path, "append without beginTensor") }
        guard o.written + o.pending.count + bytes.count <= o.expected else {
            throw TensorFileError(path, "\(o.record.name): more bytes than its shape \(o.record.shape) holds")
        }
        o.pending.append(contentsOf: bytes)
        let frameBytes = max(Layout.frameTarget / o.rowBytes, 1) * o.rowBytes
        open = o
        while open!.pending.count >= frameBytes {
            try flushFrame(byteCount: frameBytes)
        }
    }

    public func endTensor() throws {
        guard let o = open else { throw TensorFileError(path, "endTensor without beginTensor") }
        if !o.pending.isEmpty { try flushFrame(byteCount: o.pending.count) }
        let done = open!
        guard done.written == done.expected else {
            throw TensorFileError(path, "\(done.record.name): got \(done.written) bytes, shape needs \(done.expected)")
        }
        records.append(done.record)
        open = nil
    }

    private func flushFrame(byteCount: Int) throws {
        guard var o = open, let h = handle else { return }
        let chunk = Array(o.pending[0..<byteCount])
        o.pending.removeFirst(byteCount)
        let packed = chunk.withUnsafeBytes { Zstd.compress($0, level: compressionLevel) }
        h.write(Data(packed))
        o.record.frames.append(FrameRecord(offset: offset, compressed: packed.count, raw: byteCount,
                                           rows: byteCount / o.rowBytes))
        offset += packed.count
        o.written += byteCount
        open = o
    }

    /// Writes the footer, syncs and renames into place.
    public func finish() throws {
        guard open == nil else { throw TensorFileError(path, "tensor \(open!.record.name) was not ended") }
        guard let h = handle else { throw TensorFileError(path, "writer already finished") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let footer = try encoder.encode(Footer(version: 1, metadata: metadata, tensors: records))
        var tail = Data(footer)
        var len = UInt64(footer.count).littleEndian
        withUnsafeBytes(of: &len) { tail.append(contentsOf: $0) }
        tail.append(contentsOf: Layout.tailMagic)
        h.write(tail)
        h.synchronizeFile()
        try h.close()
        handle = nil
        guard rename(tempPath, path) == 0 else {
            throw TensorFileError(path, "cannot rename temporary file into place (errno \(errno))")
        }
        finished = true
    }
}
