import Foundation

/// Writes a file that `torch.load` reads as `torch.save` would have written it (PyTorch's ZIP
/// format): a top-level dict of state dicts (`collections.OrderedDict` of tensors), numbers,
/// strings and an `argparse.Namespace`, as the official code's checkpoints hold. Float32 and
/// int64 tensors only, each on its own storage, contiguous; members stored uncompressed and
/// aligned to 64 bytes as PyTorch's writer aligns them. Without zip64, so an archive stops at 4 GiB.
public enum TorchSaveWriter {
    public indirect enum Value {
        case int(Int)
        case float(Double)
        case string(String)
        case bool(Bool)
        /// A state dict: the tensors under their names, in order.
        case stateDict([StoredTensor])
        /// `argparse.Namespace(**fields)`, the official code's `opt`.
        case namespace([(String, Value)])
    }

    public static func write(_ path: String, _ top: [(String, Value)]) throws {
        var pickle = PickleWriter()
        var storages: [[UInt8]] = []
        try pickle.top(top, storages: &storages, path: path)
        // PyTorch names the archive's folder after the file; torch.load takes any name.
        let folder = "archive"
        var members: [(String, [UInt8])] = [("\(folder)/data.pkl", pickle.bytes), ("\(folder)/byteorder", Array("little".utf8))]
        for (i, s) in storages.enumerated() { members.append(("\(folder)/data/\(i)", s)) }
        members.append(("\(folder)/version", Array("3\n".utf8)))
        try StoredZipWriter.write(path, members)
    }
}

/// Pickle protocol 2 of the few kinds `TorchSaveWriter.Value` has; nothing is memoised, as
/// nothing is shared.
private struct PickleWriter {
    var bytes: [UInt8] = [0x80, 0x02]

    mutating func op(_ code: UInt8) { bytes.append(code) }
    mutating func global(_ module: String, _ name: String) { op(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        op(0x58)
        bytes += LittleEndian.bytes(UInt32(utf8.count))
        bytes += utf8
    }
    mutating func int(_ v: Int) {
        if (0...255).contains(v) { op(0x4B); bytes.append(UInt8(v)) }
        else if let small = Int32(exactly: v) { op(0x4A); bytes += LittleEndian.bytes(small) }
        else { op(0x8A); bytes.append(8); bytes += LittleEndian.bytes(Int64(v)) }
    }
    mutating func float(_ v: Double) { op(0x47); bytes += withUnsafeBytes(of: v.bitPattern.bigEndian, Array.init) }
    mutating func tuple(_ items: [Int]) {
        op(0x28)
        for i in items { int(i) }
        op(0x74)
    }
    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        op(0x29) // EMPTY_TUPLE
        op(0x52) // REDUCE
    }

    mutating func top(_ entries: [(String, TorchSaveWriter.Value)], storages: inout [[UInt8]], path: String) throws {
        op(0x7D) // EMPTY_DICT
        op(0x28) // MARK
        for (key, value) in entries {
            string(key)
            try self.value(value, storages: &storages, path: path)
        }
        op(0x75) // SETITEMS
        op(0x2E) // STOP
    }

    mutating func value(_ v: TorchSaveWriter.Value, storages: inout [[UInt8]], path: String) throws {
        switch v {
        case .int(let i): int(i)
        case .float(let f): float(f)
        case .string(let s): string(s)
        case .bool(let b): op(b ? 0x88 : 0x89)
        case .namespace(let fields):
            global("argparse", "Namespace")
            op(0x29); op(0x81) // EMPTY_TUPLE, NEWOBJ
            op(0x7D); op(0x28) // the instance dict, as BUILD's state
            for (k, f) in fields {
                string(k)
                try value(f, storages: &storages, path: path)
            }
            op(0x75); op(0x62) // SETITEMS, BUILD
        case .stateDict(let tensors):
            emptyOrderedDict()
            op(0x28)
            for t in tensors {
                string(t.name)
                try tensor(t, key: storages.count, path: path)
                storages.append(t.bytes)
            }
            op(0x75)
        }
    }

    /// `torch._utils._rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict())`
    /// with the storage as the persistent id `('storage', torch.<T>Storage, key, 'cpu', count)`.
    mutating func tensor(_ t: StoredTensor, key: Int, path: String) throws {
        let storageType: String
        switch t.dtype {
        case .f32: storageType = "FloatStorage"
        case .i64: storageType = "LongStorage"
        default: throw TensorFileError(path, "\(t.name) is \(t.dtype.rawValue); only float32 and int64 tensors are written")
        }
        let count = t.shape.reduce(1, *)
        var strides = [Int](repeating: 1, count: t.shape.count)
        for i in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * t.shape[i + 1] }
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)
        op(0x28)
        string("storage")
        global("torch", storageType)
        string(String(key))
        string("cpu")
        int(count)
        op(0x74)
        op(0x51) // BINPERSID
        int(0)
        tuple(t.shape)
        tuple(strides)
        op(0x89) // requires_grad False
        emptyOrderedDict()
        op(0x74)
        op(0x52)
    }
}

/// A ZIP archive of stored (uncompressed) members, each member's data starting on a multiple of
/// 64 bytes (the local header's extra field pads it), written atomically.
enum StoredZipWriter {
    static let alignment = 64

    static func write(_ path: String, _ members: [(name: String, data: [UInt8])]) throws {
        func le16(_ v: Int) -> [UInt8] { LittleEndian.bytes(UInt16(truncatingIfNeeded: v)) }
        func le32(_ v: Int) -> [UInt8] { LittleEndian.bytes(UInt32(truncatingIfNeeded: v)) }
        let file = try AtomicFile(path: path)
        var offset = 0
        var directory: [UInt8] = []
        for (name, data) in members {
            let nameBytes = Array(name.utf8)
            let crc = Int(CRC32.ieee.checksum(data))
            let headerEnd = offset + 30 + nameBytes.count
            // An extra field of id 0xCAFE (PyTorch's choice) pads the data to the alignment; a
            // field is at least its 4-byte header.
            let pad = (alignment - (headerEnd + 4) % alignment) % alignment
            let extra: [UInt8] = le16(0xCAFE) + le16(pad) + [UInt8](repeating: 0x5A, count: pad)
            guard offset + 30 + nameBytes.count + extra.count + data.count < Int(UInt32.max) else {
                throw TensorFileError(path, "more than 4 GiB: too large for a torch.save file without zip64 (write .safetensors instead)")
            }
            var local: [UInt8] = le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
            local += le32(crc) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(extra.count)
            try file.write(local + nameBytes + extra)
            try file.write(data)
            var central: [UInt8] = le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
            central += le32(crc) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(offset)
            directory += central + nameBytes
            offset += local.count + nameBytes.count + extra.count + data.count
        }
        guard members.count < 0xFFFF, offset + directory.count < Int(UInt32.max) else {
            throw TensorFileError(path, "too many tensors or bytes for a torch.save file without zip64 (write .safetensors instead)")
        }
        var end: [UInt8] = le32(0x0605_4B50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
        end += le32(directory.count) + le32(offset) + le16(0)
        try file.write(directory + end)
        try file.commit()
    }
}
