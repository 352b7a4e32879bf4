import Dispatch
import Foundation

/// Reads a tensor file. Opening validates the whole footer (see `Layout`) before any data is
/// read; frames are then read on demand and inflated on every core. A reader holds only
/// immutable state and positioned reads, so threads may share it.
public final class TensorFileReader: @unchecked Sendable {
    public let path: String
    public let metadata: [String: String]
    /// Size of the file in bytes.
    public let fileSize: Int
    private let entries: [TensorEntry]
    private let index: [String: Int]
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        let fd = try FileIO.openForReading(path)
        let parsed: (size: Int, footer: Footer, entries: [TensorEntry])
        do { parsed = try Self.open(fd: fd, path: path) } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        fileSize = parsed.size
        metadata = parsed.footer.metadata
        entries = parsed.entries
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.index = index
    }

    deinit { close(fd) }

    /// Every tensor, in file order.
    public var tensors: [TensorInfo] { entries.map(\.info) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func info(_ name: String) throws -> TensorInfo { try entry(name).info }

    public func read(_ name: String) throws -> StoredTensor {
        let e = try entry(name)
        return try readRows(name, 0..<e.rowCount)
    }

    /// Rows `rows` along axis 0, inflating only the frames that hold them. A rank-0 tensor has
    /// one row, read as `0..<1`.
    public func readRows(_ name: String, _ rows: Range<Int>) throws -> StoredTensor {
        let e = try entry(name)
        try check(rows, of: e)
        let n = rows.count * e.rowBytes
        let start = rows.lowerBound * e.rowBytes
        try checkBeforeAllocating(e, bytes: start..<(start + n))
        let bytes = try [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
            try inflate(e, bytes: start..<(start + n), into: buffer.baseAddress)
            count = n
        }
        var shape = e.shape
        if !shape.isEmpty { shape[0] = rows.count }
        var t = StoredTensor(name: name, dtype: e.dtype, shape: shape, bytes: bytes)
        t.origin = path
        return t
    }

    /// Rows `rows` along axis 0 straight into `buffer` (exactly `rows.count` rows of bytes), for
    /// callers that keep tensors in their own storage and want no extra copy.
    public func readRows(_ name: String, _ rows: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        let e = try entry(name)
        try check(rows, of: e)
        let n = rows.count * e.rowBytes
        guard buffer.count == n else {
            throw TensorFileError(path, "\(name): rows \(rows) are \(n) bytes, the buffer holds \(buffer.count)")
        }
        let start = rows.lowerBound * e.rowBytes
        try inflate(e, bytes: start..<(start + n), into: buffer.baseAddress)
    }

    /// Raw bytes `bytes` of a tensor into `buffer` (for streaming conversions in byte chunks).
    func read(_ name: String, bytes: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        let e = try entry(name)
        guard bytes.lowerBound >= 0, bytes.upperBound <= e.byteCount, buffer.count == bytes.count else {
            throw TensorFileError(path, "\(name): bytes \(bytes) outside 0..<\(e.byteCount) or buffer of \(buffer.count)")
        }
        try inflate(e, bytes: bytes, into: buffer.baseAddress)
    }

    /// Inflates every frame of every tensor (checking zstd's checksums) without keeping the data.
    public func verify() throws {
        for e in entries { try inflate(e, bytes: 0..<e.byteCount, into: nil) }
    }

    /// The footer's sizes are consistent, but only the frames can vouch for them: before
    /// allocating, check that each frame's own header declares the size the footer implies,
    /// and refuse outright what no allocation on this machine could hold.
    private func checkBeforeAllocating(_ e: TensorEntry, bytes: Range<Int>) throws {
        let memory = ProcessInfo.processInfo.physicalMemory
        guard UInt64(bytes.count) <= memory else {
            throw TensorFileError(path, "\(e.name): \(bytes.count) bytes exceed this machine's \(memory) bytes of memory (read it in row ranges)")
        }
        var header = [UInt8](repeating: 0, count: Zstd.maxHeaderBytes)
        for f in e.frames(covering: bytes) {
            let at = e.frameOffsets[f]
            let n = min(header.count, e.frameOffsets[f + 1] - at)
            let declared = try header.withUnsafeMutableBytes { buffer -> UInt64? in
                let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                do { try FileIO.read(fd, into: part, at: at) } catch let p as FileIO.Problem {
                    throw TensorFileError(path, "\(e.name): frame \(f) at offset \(at): \(p.message)")
                }
                return Zstd.declaredSize(UnsafeRawBufferPointer(part))
            }
            guard declared == UInt64(e.rawSize(ofFrame: f)) else {
                let what = declared.map { "declares \($0) bytes" } ?? "has no valid zstd header"
                throw TensorFileError(path, "\(e.name): frame \(f) at offset \(at) \(what), the footer says \(e.rawSize(ofFrame: f))")
            }
        }
    }

    private func entry(_ name: String) throws -> TensorEntry {
        guard let i = index[name] else { throw TensorFileError(path, "has no tensor named \(name)") }
        return entries[i]
    }

    private func check(_ rows: Range<Int>, of e: TensorEntry) throws {
        if e.shape.isEmpty {
            guard rows == 0..<1 else {
                throw TensorFileError(path, "\(e.name): a rank-0 tensor has the single row 0..<1, not \(rows)")
            }
        } else if rows.lowerBound < 0 || rows.upperBound > e.rowCount {
            throw TensorFileError(path, "\(e.name): rows \(rows) outside 0..<\(e.rowCount)")
        }
    }

    /// Inflates the frames holding raw bytes `bytes` of `e` and copies those bytes to `dst`
    /// (or only checks them when `dst` is nil). Workers take interleaved frames; each has its
    /// own zstd context and buffers, so memory is a couple of frames per core.
    private func inflate(_ e: TensorEntry, bytes: Range<Int>, into dst: UnsafeMutableRawPointer?) throws {
        let frames = e.frames(covering: bytes)
        guard !frames.isEmpty else { return }
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, frames.count)
        let errors = FirstError()
        let fd = self.fd, path = self.path
        let work = { (w: Int) in
            guard let zstd = ZstdDecompressor() else {
                return errors.record(TensorFileError(path, "cannot create a zstd context"))
            }
            var packed = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            defer {
                packed.deallocate()
                scratch.deallocate()
            }
            var f = frames.lowerBound + w
            while f < frames.upperBound, !errors.happened {
                let at = e.frameOffsets[f], stored = e.frameOffsets[f + 1] - at
                let first = f * e.frameBytes, raw = e.rawSize(ofFrame: f)
                do {
                    if packed.count < stored {
                        packed.deallocate()
                        packed = .allocate(byteCount: stored, alignment: 64)
                    }
                    let src = UnsafeMutableRawBufferPointer(rebasing: packed[0..<stored])
                    try FileIO.read(fd, into: src, at: at)
                    if let dst, first >= bytes.lowerBound, first + raw <= bytes.upperBound {
                        try zstd.decompress(UnsafeRawBufferPointer(src),
                                            into: UnsafeMutableRawBufferPointer(start: dst + (first - bytes.lowerBound), count: raw))
                    } else {
                        if scratch.count < raw {
                            scratch.deallocate()
                            scratch = .allocate(byteCount: raw, alignment: 64)
                        }
                        try zstd.decompress(UnsafeRawBufferPointer(src),
                                            into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<raw]))
                        if let dst, let from = scratch.baseAddress {
                            let lo = max(first, bytes.lowerBound), hi = min(first + raw, bytes.upperBound)
                            (dst + (lo - bytes.lowerBound)).copyMemory(from: from + (lo - first), byteCount: hi - lo)
                        }
                    }
                } catch let p as ZstdProblem {
                    errors.record(TensorFileError(path, "\(e.name): frame \(f) at offset \(at): \(p.message)"))
                } catch let p as FileIO.Problem {
                    errors.record(TensorFileError(path, "\(e.name): frame \(f) at offset \(at): \(p.message)"))
                } catch {
                    errors.record(TensorFileError(path, "\(e.name): frame \(f): \(error)"))
                }
                f += workers
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        if let error = errors.first { throw error }
    }

    /// Reads and validates the head, trailer and footer of an open file.
    private static func open(fd: Int32, path: String) throws -> (size: Int, footer: Footer, entries: [TensorEntry]) {
        func fail(_ message: String) -> TensorFileError { TensorFileError(path, message) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw fail("not a regular file") }
        let size = Int(st.st_size)
        let minimum = Layout.dataStart + Layout.trailerSize
        guard size >= minimum else { throw fail("file is \(size) bytes, too short to be a tensor file") }
        func bytes(_ at: Int, _ count: Int) throws -> [UInt8] { try FileIO.read(fd, count: count, at: at, path: path) }
        let head = try bytes(0, Layout.dataStart)
        guard head.starts(with: Layout.headPrefix) else { throw fail("not a tensor file (bad magic)") }
        guard head == Layout.headMagic else {
            let v = String(decoding: head[Layout.headPrefix.count...], as: UTF8.self)
            let hint = head == LegacyV1.headMagic ? "; convert it with `mscn tensor upgrade`" : ""
            throw fail("unsupported format version '\(v)' (this build reads \(String(format: "%02d", Layout.version))\(hint))")
        }
        let trailer = try bytes(size - Layout.trailerSize, Layout.trailerSize)
        guard Array(trailer[16..<24]) == Layout.tailMagic else {
            throw fail("truncated or corrupt (no end marker)")
        }
        let footerLength = LittleEndian.read(UInt64.self, trailer[0..<8])
        let crc = LittleEndian.read(UInt32.self, trailer[8..<12])
        let version = LittleEndian.read(UInt32.self, trailer[12..<16])
        // The head already named this build's version, so a trailer that disagrees is damage, not
        // a file from another build (a flipped bit used to read as "this build reads 2").
        guard version == Layout.version else {
            throw fail("corrupt trailer (format version \(version), the head says \(Layout.version))")
        }
        guard footerLength <= UInt64(min(Layout.maxFooterBytes, size - minimum)) else {
            throw fail("footer length \(footerLength) does not fit a \(size)-byte file (limit \(Layout.maxFooterBytes))")
        }
        let footerStart = size - Layout.trailerSize - Int(footerLength)
        let footerBytes = try bytes(footerStart, Int(footerLength))
        guard CRC32C.checksum(footerBytes) == crc else { throw fail("corrupt footer (checksum mismatch)") }
        let footer: Footer
        do { footer = try JSONDecoder().decode(Footer.self, from: Data(footerBytes)) } catch {
            throw fail("corrupt footer (\(FileIO.describe(error)))")
        }
        let entries = try footer.validate(dataStart: Layout.dataStart, dataEnd: footerStart, path: path)
        return (size, footer, entries)
    }
}

/// The first error any worker hit; later workers stop early once one is recorded.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: TensorFileError?

    func record(_ e: TensorFileError) {
        lock.lock()
        if error == nil { error = e }
        lock.unlock()
    }

    var happened: Bool { first != nil }

    var first: TensorFileError? {
        lock.lock()
        defer { lock.unlock() }
        return error
    }
}
