import Foundation

/// numpy's `.npy` format (versions 1–3), little-endian, C order.
public enum NPY {
    static func dtype(from descr: String, path: String) throws -> DType {
        switch descr {
        case "<f4": return .f32
        case "<f8": return .f64
        case "<i4": return .i32
        case "<i8": return .i64
        case "|u1", "<u1": return .u8
        case "|b1": return .u8
        default: throw TensorFileError(path, "unsupported npy dtype \(descr) (use <f4, <f8, <i4, <i8 or |u1)")
        }
    }

    static func descr(_ d: DType) -> String {
        switch d {
        case .f32: return "<f4"
        case .f64: return "<f8"
        case .i32: return "<i4"
        case .i64: return "<i8"
        case .u8: return "|u1"
        }
    }

    /// Parses the header of an `.npy` file: dtype, shape and where the data starts.
    public static func header(_ bytes: [UInt8], path: String) throws -> (dtype: DType, shape: [Int], dataOffset: Int) {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw TensorFileError(path, "not an .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLen: Int, start: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw TensorFileError(path, "truncated .npy header") }
            headerLen = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            start = 12
        } else {
            throw TensorFileError(path, "unsupported .npy version \(major)")
        }
        guard headerLen <= 1 << 20, start + headerLen <= bytes.count else {
            throw TensorFileError(path, "truncated .npy header")
        }
        let text = String(decoding: bytes[start..<(start + headerLen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = text.range(of: "'\(key)':") else { return nil }
            return String(text[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let q1 = d.firstIndex(of: "'") else {
            throw TensorFileError(path, ".npy header has no descr")
        }
        let rest = d[d.index(after: q1)...]
        guard let q2 = rest.firstIndex(of: "'") else { throw TensorFileError(path, ".npy header has a bad descr") }
        let dtype = try Self.dtype(from: String(rest[..<q2]), path: path)
        guard let fo = field("fortran_order") else { throw TensorFileError(path, ".npy header has no fortran_order") }
        if fo.hasPrefix("True") { throw TensorFileError(path, "Fortran-order .npy files are not supported") }
        guard let s = field("shape"), let open = s.firstIndex(of: "("), let close = s.firstIndex(of: ")") else {
            throw TensorFileError(path, ".npy header has no shape")
        }
        var shape: [Int] = []
        for part in s[s.index(after: open)..<close].split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { throw TensorFileError(path, ".npy shape has a bad dimension '\(t)'") }
            shape.append(v)
        }
        return (dtype, shape, start + headerLen)
    }

    /// Reads a whole `.npy` file.
    public static func read(_ path: String, name: String? = nil) throws -> StoredTensor {
        let r = try NPYReader(path: path)
        let bytes = try r.readRows(0..<r.rowCount)
        return StoredTensor(name: name ?? defaultName(for: path), dtype: r.dtype, shape: r.shape, bytes: bytes)
    }

    /// The tensor name an imported file gets: its base name without a `.npy` extension.
    public static func defaultName(for path: String) -> String {
        let base = URL(fileURLWithPath: path).lastPathComponent
        return base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
    }

    /// The header bytes (version 1.0, or 2.0 when the text outgrows 1.0's 16-bit length),
    /// padded to 64 bytes, for a tensor of this dtype and shape.
    public static func headerBytes(dtype: DType, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(descr(dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        let v1 = 10 + dict.utf8.count + 64 <= 0xFFFF
        let prefix = v1 ? 10 : 12
        let text = dict + String(repeating: " ", count: (64 - (prefix + dict.utf8.count + 1) % 64) % 64) + "\n"
        let len = text.utf8.count
        let lengthBytes = v1 ? LittleEndian.bytes(UInt16(len)) : LittleEndian.bytes(UInt32(len))
        return [0x93] + Array("NUMPY".utf8) + [v1 ? 1 : 2, 0] + lengthBytes + Array(text.utf8)
    }

    /// Writes a tensor as `.npy` (atomically).
    public static func write(_ t: StoredTensor, to path: String) throws {
        let f = try AtomicFile(path: path)
        try f.write(headerBytes(dtype: t.dtype, shape: t.shape))
        try f.write(t.bytes)
        try f.commit()
    }
}
