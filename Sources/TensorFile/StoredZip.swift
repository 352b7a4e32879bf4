import Foundation

/// The entries of a ZIP archive whose members are stored uncompressed, as `torch.save` writes
/// its files (PyTorch's writer: method 0, zip64 records when the archive is large, member data
/// aligned by padding the local header's extra field). Only the central directory and local
/// headers are trusted as far as they stay inside the file; a compressed member is an error.
struct StoredZip {
    struct Entry {
        var name: String
        /// Where the member's bytes start in the file.
        var dataOffset: Int
        var size: Int
    }

    let path: String
    private(set) var entries: [String: Entry] = [:]
    /// Member names in central-directory order.
    private(set) var names: [String] = []

    /// Whether the file starts like a ZIP archive (a local file header).
    static func looksLikeZip(_ head: [UInt8]) -> Bool { head.count >= 4 && head[0...3] == [0x50, 0x4B, 0x03, 0x04] }

    init(fd: Int32, fileSize: Int, path: String) throws {
        self.path = path
        func fail(_ what: String) -> TensorFileError { TensorFileError(path, "not a readable torch.save archive: \(what)") }
        // The end-of-central-directory record sits in the last 22 + 65,535 bytes (comment).
        let tailLength = min(fileSize, 22 + 65_535)
        let tail = try FileIO.read(fd, count: tailLength, at: fileSize - tailLength, path: path)
        guard tailLength >= 22, let eocd = stride(from: tailLength - 22, through: 0, by: -1).first(where: { Self.u32(tail, $0) == 0x0605_4B50 }) else {
            throw fail("no end-of-central-directory record (truncated?)")
        }
        var count = Int(Self.u16(tail, eocd + 10))
        var directorySize = Int(Self.u32(tail, eocd + 12))
        var directoryOffset = Int(Self.u32(tail, eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: the locator just before the record points at the zip64 record.
            guard eocd >= 20, Self.u32(tail, eocd - 20) == 0x0706_4B50 else { throw fail("zip64 sizes without a zip64 locator") }
            let recordOffset = Self.u64(tail, eocd - 20 + 8)
            guard fileSize >= 56, recordOffset <= UInt64(fileSize - 56) else { throw fail("zip64 record outside the file") }
            let record = try FileIO.read(fd, count: 56, at: Int(recordOffset), path: path)
            guard Self.u32(record, 0) == 0x0606_4B50 else { throw fail("no zip64 end-of-central-directory record") }
            let (c, s, o) = (Self.u64(record, 32), Self.u64(record, 40), Self.u64(record, 48))
            guard c <= UInt64(fileSize), s <= UInt64(fileSize), o <= UInt64(fileSize) else { throw fail("zip64 directory outside the file") }
            (count, directorySize, directoryOffset) = (Int(c), Int(s), Int(o))
        }
        guard directoryOffset + directorySize <= fileSize else { throw fail("central directory runs past the end of the file") }
        let directory = try FileIO.read(fd, count: directorySize, at: directoryOffset, path: path)
        var at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, Self.u32(directory, at) == 0x0201_4B50 else { throw fail("central directory entry \(names.count + 1) is malformed") }
            let method = Self.u16(directory, at + 10)
            var compressed = UInt64(Self.u32(directory, at + 20)), size = UInt64(Self.u32(directory, at + 24))
            let nameLength = Int(Self.u16(directory, at + 28)), extraLength = Int(Self.u16(directory, at + 30))
            let commentLength = Int(Self.u16(directory, at + 32))
            var localOffset = UInt64(Self.u32(directory, at + 42))
            guard at + 46 + nameLength + extraLength + commentLength <= directory.count else { throw fail("central directory entry \(names.count + 1) is cut short") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            // The zip64 extra field holds, in order, the 32-bit fields that read 0xFFFFFFFF.
            var e = at + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = Self.u16(directory, e), length = Int(Self.u16(directory, e + 2))
                guard e + 4 + length <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    func next() -> UInt64? {
                        guard f + 8 <= e + 4 + length else { return nil }
                        defer { f += 8 }
                        return Self.u64(directory, f)
                    }
                    if size == 0xFFFF_FFFF, let v = next() { size = v }
                    if compressed == 0xFFFF_FFFF, let v = next() { compressed = v }
                    if localOffset == 0xFFFF_FFFF, let v = next() { localOffset = v }
                }
                e += 4 + length
            }
            guard method == 0 else { throw fail("member \(name) is compressed (method \(method)); torch.save stores its members") }
            guard compressed == size, size <= UInt64(fileSize), fileSize >= 30, localOffset <= UInt64(fileSize - 30) else {
                throw fail("member \(name) has inconsistent sizes or lies outside the file")
            }
            let local = try FileIO.read(fd, count: 30, at: Int(localOffset), path: path)
            guard Self.u32(local, 0) == 0x0403_4B50 else { throw fail("member \(name) has no local header") }
            let dataOffset = Int(localOffset) + 30 + Int(Self.u16(local, 26)) + Int(Self.u16(local, 28))
            guard dataOffset + Int(size) <= fileSize else { throw fail("member \(name) runs past the end of the file (truncated?)") }
            entries[name] = Entry(name: name, dataOffset: dataOffset, size: Int(size))
            names.append(name)
            at += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The bytes of member `name`.
    func read(_ name: String, fd: Int32) throws -> [UInt8] {
        guard let e = entries[name] else { throw TensorFileError(path, "the archive has no member \(name)") }
        return try FileIO.read(fd, count: e.size, at: e.dataOffset, path: path)
    }

    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
    static func u64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }
}
