import Foundation

/// The safetensors format (Hugging Face; what `safetensors.torch.save_file` writes):
///
///     0        N  u64 little-endian          header length
///     8        N bytes of JSON               {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [b, e]}}
///     8 + N    raw little-endian C-order data, tensor bytes at [8 + N + b, 8 + N + e)
///
/// The reader checks, before reading any data: header length ≤ `maxHeaderBytes` and inside the
/// file, UTF-8 JSON starting with `{`, known dtypes, rank ≤ 64, dimensions ≥ 0, sizes without
/// overflow and equal to `e − b`, offsets contiguous from 0 without overlap, and the file
/// ending exactly at the last tensor. Every failure is a `TensorFileError` naming the file.
public enum Safetensors {
    /// The safetensors library's own limit on the header.
    public static let maxHeaderBytes = 100_000_000

    /// dtype names in the header for the element types the project stores.
    static let names: [DType: String] = [.f32: "F32", .f64: "F64", .i32: "I32", .i64: "I64", .u8: "U8"]
    /// dtypes the format defines that the project does not read.
    static let unsupported: Set<String> = ["F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "I16", "U16", "U32", "U64", "BOOL"]

    /// Reads every tensor (in offset order) and the `__metadata__` strings.
    public static func read(_ path: String) throws -> (metadata: [String: String], tensors: [StoredTensor]) {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TensorFileError(path, "cannot stat (\(String(cString: strerror(errno))))") }
        let fileSize = Int(st.st_size)
        guard fileSize >= 8 else { throw TensorFileError(path, "\(fileSize) bytes: too short for a safetensors header length") }
        let lengthBytes = try FileIO.read(fd, count: 8, at: 0, path: path)
        let length = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(maxHeaderBytes) else {
            throw TensorFileError(path, "header length \(length) exceeds the limit of \(maxHeaderBytes) bytes (not a safetensors file?)")
        }
        guard Int(length) <= fileSize - 8 else {
            throw TensorFileError(path, "header length \(length) runs past the end of the \(fileSize)-byte file")
        }
        let header = try FileIO.read(fd, count: Int(length), at: 8, path: path)
        let (metadata, entries) = try parseHeader(header, path: path)
        let dataStart = 8 + Int(length)
        let dataLength = entries.last?.end ?? 0
        guard dataStart + dataLength == fileSize else {
            throw TensorFileError(path, "the header describes \(dataLength) data bytes, the file holds \(fileSize - dataStart) after the header")
        }
        let tensors = try entries.map { e in
            StoredTensor(name: e.name, dtype: e.dtype, shape: e.shape,
                         bytes: try FileIO.read(fd, count: e.end - e.begin, at: dataStart + e.begin, path: path))
        }
        return (metadata, tensors)
    }

    struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    private struct RawEntry: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    private enum RawValue: Decodable {
        case tensor(RawEntry)
        case metadata([String: String])
        init(from decoder: Decoder) throws {
            if let m = try? [String: String](from: decoder) {
                self = .metadata(m)
            } else {
                self = .tensor(try RawEntry(from: decoder))
            }
        }
    }

    /// Validates the header; entries come back sorted by offset.
    static func parseHeader(_ bytes: [UInt8], path: String) throws -> ([String: String], [Entry]) {
        guard bytes.first == UInt8(ascii: "{") else { throw TensorFileError(path, "header does not start with '{' (not a safetensors file?)") }
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            throw TensorFileError(path, "header is not UTF-8 text")
        }
        let raw: [String: RawValue]
        do { raw = try JSONDecoder().decode([String: RawValue].self, from: Data(bytes)) } catch {
            throw TensorFileError(path, "header is not a safetensors JSON table: \(FileIO.describe(error))")
        }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in raw {
            switch value {
            case .metadata(let m):
                guard name == "__metadata__" else { throw TensorFileError(path, "header entry '\(name)' is not a tensor") }
                metadata = m
            case .tensor(let t):
                guard name != "__metadata__" else { throw TensorFileError(path, "__metadata__ must map strings to strings") }
                entries.append(try entry(name, t, path: path))
            }
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var next = 0
        for e in entries {
            guard e.begin == next else {
                let why = e.begin < next ? "overlaps the previous tensor" : "leaves a gap after byte \(next)"
                throw TensorFileError(path, "tensor '\(e.name)' at data offsets [\(e.begin), \(e.end)) \(why)")
            }
            next = e.end
        }
        return (metadata, entries)
    }

    private static func entry(_ name: String, _ t: RawEntry, path: String) throws -> Entry {
        guard let dtype = names.first(where: { $0.value == t.dtype })?.key else {
            let why = unsupported.contains(t.dtype) ? "is not supported (F32, F64, I32, I64, U8 are)" : "is not a safetensors dtype"
            throw TensorFileError(path, "tensor '\(name)': dtype \(t.dtype) \(why)")
        }
        guard t.shape.count <= 64 else { throw TensorFileError(path, "tensor '\(name)': rank \(t.shape.count) exceeds 64") }
        guard t.shape.allSatisfy({ $0 >= 0 }) else { throw TensorFileError(path, "tensor '\(name)': negative dimension in \(t.shape)") }
        var bytes = dtype.size
        for d in t.shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw TensorFileError(path, "tensor '\(name)': shape \(t.shape) overflows") }
            bytes = p
        }
        guard t.data_offsets.count == 2, t.data_offsets[0] >= 0, t.data_offsets[0] <= t.data_offsets[1] else {
            throw TensorFileError(path, "tensor '\(name)': data_offsets \(t.data_offsets) are not [begin, end] with begin ≤ end")
        }
        guard t.data_offsets[1] - t.data_offsets[0] == bytes else {
            throw TensorFileError(path, "tensor '\(name)': \(t.dtype) \(t.shape) needs \(bytes) bytes, data_offsets \(t.data_offsets) give \(t.data_offsets[1] - t.data_offsets[0])")
        }
        return Entry(name: name, dtype: dtype, shape: t.shape, begin: t.data_offsets[0], end: t.data_offsets[1])
    }

    /// Writes `tensors` in name order with `metadata` (atomically). The header's keys are
    /// sorted and it is padded with spaces to a multiple of 8 bytes, as the Python library
    /// pads it, so the same tensors always give the same bytes.
    public static func write(_ path: String, _ tensors: [StoredTensor], metadata: [String: String] = [:]) throws {
        let sorted = tensors.sorted { $0.name < $1.name }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.name == b.name {
            throw TensorFileError(path, "two tensors named '\(a.name)'")
        }
        var fields: [(String, String)] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(quote($0)):\(quote(metadata[$0] ?? ""))" }
            fields.append(("__metadata__", "{" + m.joined(separator: ",") + "}"))
        }
        var offset = 0
        for t in sorted {
            guard let dtype = names[t.dtype] else { throw TensorFileError(path, "tensor '\(t.name)': no safetensors dtype for \(t.dtype)") }
            let shape = t.shape.map(String.init).joined(separator: ",")
            fields.append((t.name, "{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"))
            offset += t.bytes.count
        }
        fields.sort { $0.0 < $1.0 }
        var header = Array(("{" + fields.map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        let file = try AtomicFile(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try file.write(header)
        for t in sorted { try file.write(t.bytes) }
        try file.commit()
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
