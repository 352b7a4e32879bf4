import Foundation

/// Reads files in the first (version 1) layout, only to upgrade them:
///
///     "MSCNTZ01" | zstd frames | footer JSON | footer length (u64 LE) | "MSCNTEND"
///
/// with explicit per-frame offset, compressed and raw sizes and row counts in the footer.
/// Validated as strictly as version 2 (except that version 1 had no footer checksum).
enum LegacyV1 {
    static let headMagic = Array("MSCNTZ01".utf8)

    private struct Frame: Codable { var offset: Int; var compressed: Int; var raw: Int; var rows: Int }
    private struct Tensor: Codable { var name: String; var dtype: DType; var shape: [Int]; var frames: [Frame] }
    private struct Footer: Codable { var version: Int; var metadata: [String: String]; var tensors: [Tensor] }

    static func readAll(_ path: String) throws -> (metadata: [String: String], tensors: [StoredTensor]) {
        func fail(_ message: String) -> TensorFileError { TensorFileError(path, "version 1 file: " + message) }
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TensorFileError(path, errno == ENOENT ? "no such file" : "cannot open for reading") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError(path, "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 24 else { throw fail("too short") }
        guard try FileIO.read(fd, count: 8, at: 0, path: path) == headMagic else { throw fail("bad magic") }
        let tail = try FileIO.read(fd, count: 16, at: size - 16, path: path)
        guard Array(tail[8..<16]) == Layout.tailMagic else { throw fail("truncated or corrupt (no end marker)") }
        let length = LittleEndian.read(UInt64.self, tail[0..<8])
        guard length <= UInt64(min(Layout.maxFooterBytes, size - 24)) else { throw fail("footer length \(length) does not fit") }
        let footerStart = size - 16 - Int(length)
        let footer: Footer
        do {
            footer = try JSONDecoder().decode(Footer.self, from: Data(try FileIO.read(fd, count: Int(length), at: footerStart, path: path)))
        } catch let e as TensorFileError { throw e } catch { throw fail("corrupt footer (\(FileIO.describe(error)))") }
        guard footer.version == 1 else { throw fail("footer says version \(footer.version)") }
        var end = 8
        var out: [StoredTensor] = []
        let zstd = ZstdDecompressor()
        for t in footer.tensors {
            guard t.shape.count <= Layout.maxRank, t.shape.allSatisfy({ $0 >= 0 }) else { throw fail("\(t.name): bad shape \(t.shape)") }
            var total = t.dtype.size
            for d in t.shape {
                let (p, o) = total.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("\(t.name): shape \(t.shape) overflows") }
                total = p
            }
            var raw = 0
            for f in t.frames {
                guard f.offset == end, f.compressed > 0, f.compressed <= footerStart - end, f.raw > 0,
                      f.raw / Layout.maxInflation <= f.compressed, f.raw <= total - raw else {
                    throw fail("\(t.name): frame table is inconsistent")
                }
                end += f.compressed
                raw += f.raw
            }
            guard raw == total else { throw fail("\(t.name): frames hold \(raw) bytes, shape \(t.shape) needs \(total)") }
            guard UInt64(total) <= ProcessInfo.processInfo.physicalMemory else { throw fail("\(t.name): too large to upgrade in memory") }
            var bytes = [UInt8](repeating: 0, count: total)
            var at = 0
            for f in t.frames {
                let packed = try FileIO.read(fd, count: f.compressed, at: f.offset, path: path)
                do {
                    guard let zstd else { throw ZstdProblem("cannot create a zstd context") }
                    try packed.withUnsafeBytes { src in
                        try bytes.withUnsafeMutableBytes { dst in
                            try zstd.decompress(src, into: UnsafeMutableRawBufferPointer(rebasing: dst[at..<(at + f.raw)]))
                        }
                    }
                } catch let p as ZstdProblem { throw fail("\(t.name): frame at offset \(f.offset): \(p.message)") }
                at += f.raw
            }
            out.append(StoredTensor(name: t.name, dtype: t.dtype, shape: t.shape, bytes: bytes))
        }
        guard end == footerStart else { throw fail("frames end at \(end), footer starts at \(footerStart)") }
        return (footer.metadata, out)
    }
}

extension TensorFiles {
    /// Rewrites a version 1 file in the current layout (atomically, same tensors and metadata).
    /// Returns false when the file already has the current layout.
    @discardableResult
    public static func upgrade(_ path: String) throws -> Bool {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TensorFileError(path, errno == ENOENT ? "no such file" : "cannot open for reading") }
        let head = try? FileIO.read(fd, count: 8, at: 0, path: path)
        close(fd)
        if head == Layout.headMagic {
            _ = try TensorFileReader(path: path)
            return false
        }
        let (metadata, tensors) = try LegacyV1.readAll(path)
        try write(path, tensors, metadata: metadata)
        return true
    }
}
