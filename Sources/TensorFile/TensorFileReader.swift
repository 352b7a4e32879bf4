import Foundation

/// Reads a tensor file. The footer is validated on open; data frames are read on demand.
public final class TensorFileReader {
    public let path: String
    public let metadata: [String: String]
    private let records: [TensorRecord]
    private let fileSize: Int
    private let handle: FileHandle

    public init(path: String) throws {
        self.path = path
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw TensorFileError(path, FileManager.default.fileExists(atPath: path)
                                  ? "cannot open for reading" : "no such file")
        }
        handle = h
        let size = Int(h.seekToEndOfFile())
        fileSize = size
        let minimum = Layout.headMagic.count + 8 + Layout.tailMagic.count
        guard size >= minimum else { throw TensorFileError(path, "file is \(size) bytes, too short to be a tensor file") }
        h.seek(toFileOffset: 0)
        guard [UInt8](h.readData(ofLength: 8)) == Layout.headMagic else {
            throw TensorFileError(path, "not a tensor file (bad magic)")
        }
        h.seek(toFileOffset: UInt64(size - 16))
        let tail = [UInt8](h.readData(ofLength: 16))
        guard tail.count == 16, Array(tail[8..<16]) == Layout.tailMagic else {
            throw TensorFileError(path, "truncated or corrupt (bad end marker)")
        }
        let footerLen = tail[0..<8].enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard footerLen <= UInt64(min(Layout.maxFooterBytes, size - minimum)) else {
            throw TensorFileError(path, "footer length \(footerLen) does not fit the file")
        }
        let footerStart = size - 16 - Int(footerLen)
        h.seek(toFileOffset: UInt64(footerStart))
        let footerData = h.readData(ofLength: Int(footerLen))
        let footer: Footer
        do { footer = try JSONDecoder().decode(Footer.self, from: footerData) } catch {
            throw TensorFileError(path, "corrupt footer (\(error))")
        }
        guard footer.version == 1 else { throw TensorFileError(path, "unsupported format version \(footer.version)") }
        var expectedOffset = Layout.headMagic.count
        for t in footer.tensors {
            guard t.shape.allSatisfy({ $0 >= 0 && $0 < (1 << 40) }) else {
                throw TensorFileError(path, "\(t.name): invalid shape \(t.shape)")
            }
            var total = t.dtype.size
            for d in t.shape {
                let (p, o) = total.multipliedReportingOverflow(by: d)
                guard !o, p < (1 << 50) else { throw TensorFileError(path, "\(t.name): shape \(t.shape) overflows") }
                total = p
            }
            var raw = 0, rows = 0
            for f in t.frames {
                guard f.offset == expectedOffset, f.compressed > 0, f.raw > 0, f.rows >= 0 else {
                    throw TensorFileError(path, "\(t.name): frame table is inconsistent")
                }
                expectedOffset += f.compressed
                raw += f.raw
                rows += f.rows
            }
            guard raw == total else {
                throw TensorFileError(path, "\(t.name): frames hold \(raw) bytes, shape \(t.shape) needs \(total)")
            }
            if let first = t.shape.first, total > 0, rows != first {
                throw TensorFileError(path, "\(t.name): frames hold \(rows) rows, shape says \(first)")
            }
        }
        guard expectedOffset == footerStart else {
            throw TensorFileError(path, "frames end at \(expectedOffset), footer starts at \(footerStart)")
        }
        metadata = footer.metadata
        records = footer.tensors
    }

    deinit { try? handle.close() }

    public var tensors: [TensorInfo] {
        records.map { r in
            TensorInfo(name: r.name, dtype: r.dtype, shape: r.shape,
                       byteCount: r.shape.reduce(1, *) * r.dtype.size,
                       storedByteCount: r.frames.reduce(0) { $0 + $1.compressed },
                       frameCount: r.frames.count)
        }
    }

    public func contains(_ name: String) -> Bool { records.contains { $0.name == name } }

    public func info(_ name: String) throws -> TensorInfo {
        guard let i = tensors.first(where: { $0.name == name }) else {
            throw TensorFileError(path, "has no tensor named \(name)")
        }
        return i
    }

    public func read(_ name: String) throws -> StoredTensor {
        let r = try record(name)
        return try readRows(name, 0..<(r.shape.first ?? 1))
    }

    /// Rows `rows` along axis 0, inflating only the frames that hold them.
    public func readRows(_ name: String, _ rows: Range<Int>) throws -> StoredTensor {
        let r = try record(name)
        let nRows = r.shape.first ?? 1
        guard rows.lowerBound >= 0, rows.upperBound <= nRows else {
            throw TensorFileError(path, "\(name): rows \(rows) outside 0..<\(nRows)")
        }
        let rowBytes = r.shape.dropFirst().reduce(1, *) * r.dtype.size
        var out = [UInt8](repeating: 0, count: rows.count * rowBytes)
        var rowStart = 0
        for f in r.frames {
            let frameRows = r.shape.isEmpty ? 1 : f.rows
            let lo = max(rowStart, rows.lowerBound), hi = min(rowStart + frameRows, rows.upperBound)
            if lo < hi {
                handle.seek(toFileOffset: UInt64(f.offset))
                let packed = handle.readData(ofLength: f.compressed)
                guard packed.count == f.compressed else { throw TensorFileError(path, "\(name): truncated frame") }
                var raw = [UInt8](repeating: 0, count: f.raw)
                let problem = packed.withUnsafeBytes { src in raw.withUnsafeMutableBytes { Zstd.decompress(src, into: $0) } }
                if let problem { throw TensorFileError(path, "\(name): \(problem)") }
                let from = (lo - rowStart) * rowBytes, to = (hi - rowStart) * rowBytes
                let dst = (lo - rows.lowerBound) * rowBytes
                out.replaceSubrange(dst..<(dst + to - from), with: raw[from..<to])
            }
            rowStart += frameRows
        }
        var shape = r.shape
        if !shape.isEmpty { shape[0] = rows.count }
        return StoredTensor(name: name, dtype: r.dtype, shape: shape, bytes: out)
    }

    /// Inflates every frame and checks its checksum.
    public func verify() throws {
        for r in records { _ = try read(r.name) }
    }

    private func record(_ name: String) throws -> TensorRecord {
        guard let r = records.first(where: { $0.name == name }) else {
            throw TensorFileError(path, "has no tensor named \(name)")
        }
        return r
    }
}

/// One-call conveniences over `TensorFileReader` and `TensorFileWriter`.
public enum TensorFiles {
    /// Reads a whole file into memory: metadata and every tensor by name.
    public static func readAll(_ path: String) throws -> (metadata: [String: String], tensors: [String: StoredTensor]) {
        let r = try TensorFileReader(path: path)
        var out: [String: StoredTensor] = [:]
        for t in r.tensors { out[t.name] = try r.read(t.name) }
        return (r.metadata, out)
    }

    /// Writes tensors and metadata to `path` atomically.
    public static func write(_ path: String, _ tensors: [StoredTensor], metadata: [String: String] = [:]) throws {
        let w = try TensorFileWriter(path: path, metadata: metadata)
        for t in tensors { try w.write(t) }
        try w.finish()
    }
}
