import Foundation

/// Tensors of a file written by `torch.save`, read without Python: the official MSCN code's
/// checkpoints (`model_best.pth.tar`: `{"net_A": state_dict, ..., "epoch": 3, "opt": Namespace}`),
/// or a bare state dict, in PyTorch ≥ 1.6's ZIP format or the format before it
/// (`TorchLegacySave`), in which older checkpoints (saved by torch 1.x before 1.6) come.
///
/// A top-level dict's entries become tensors named `<key>.<name>` for each state dict (a dict of
/// tensors), `<key>.<i>.<name>` for a list of state dicts (NCR's and SGRAF's checkpoints) and
/// `<key>` for a tensor; plain numbers and strings are returned as text; anything
/// else (the options object) is skipped. Tensors come out contiguous in C order whatever their
/// strides. Float16/bfloat16/bool storages, big-endian files and PyTorch's first (tar) format
/// are errors that say what to do instead.
public enum TorchSave {
    public struct Contents {
        public var tensors: [StoredTensor]
        /// Top-level numbers and strings (`epoch`, `best_rsum`), as text.
        public var values: [String: String]
    }

    /// Whether `path` starts like a file `torch.save` writes, in either format.
    public static func isTorchSave(_ path: String) -> Bool {
        guard let fd = try? FileIO.openForReading(path) else { return false }
        defer { close(fd) }
        switch (try? head(fd, path: path)).map({ container($0.bytes) }) {
        case .zip?, .legacy?: return true
        default: return false
        }
    }

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "LongStorage": .i64, "IntStorage": .i32, "ByteStorage": .u8,
    ]

    enum Container {
        case zip
        /// Pickles and raw storages one after another; the pickle after the magic number's starts at `pickles`.
        case legacy(pickles: Int)
        /// PyTorch's first format: a tar archive of pickles.
        case tar
        case unknown
    }

    /// The bytes `container` looks at (a tar header's magic sits at 257), and the file's size.
    private static func head(_ fd: Int32, path: String) throws -> (bytes: [UInt8], fileSize: Int) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TensorFileError(path, "cannot stat (\(String(cString: strerror(errno))))") }
        let fileSize = Int(st.st_size)
        return (try FileIO.read(fd, count: min(fileSize, 512), at: 0, path: path), fileSize)
    }

    /// Which of `torch.save`'s formats a file starting with `head` is in; the one place that decides.
    static func container(_ head: [UInt8]) -> Container {
        if StoredZip.looksLikeZip(head) { return .zip }
        if let end = legacyMagicEnd(head) { return .legacy(pickles: end) }
        if head.count >= 262, head[257..<262].elementsEqual("ustar".utf8) { return .tar }
        return .unknown
    }

    /// `_legacy_save` starts with a pickle of the integer 0x1950a86a20f9469cfc6c: PROTO (2 by
    /// default; a FRAME follows for protocol 4 and later), LONG1 of its 10 bytes, STOP.
    /// Where that pickle ends, if `head` starts with it.
    private static func legacyMagicEnd(_ head: [UInt8]) -> Int? {
        let magic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        guard head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) else { return nil }
        let at = head[1] >= 4 && head.count > 2 && head[2] == 0x95 ? 11 : 2
        guard head.count >= at + magic.count, head[at..<(at + magic.count)].elementsEqual(magic) else { return nil }
        return at + magic.count
    }

    public static func read(_ path: String) throws -> Contents {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        let (head, fileSize) = try self.head(fd, path: path)
        switch container(head) {
        case .zip:
            return try readZip(fd: fd, fileSize: fileSize, path: path)
        case .legacy(let pickles):
            return try TorchLegacySave.read(fd: fd, fileSize: fileSize, pickles: pickles, path: path)
        case .tar:
            throw TensorFileError(path, "a torch.save file in PyTorch's first format (a tar archive), which is not read: load it with torch.load(..., weights_only=False) and save it again, or write safetensors (README, \"Weights to and from PyTorch\")")
        case .unknown:
            throw TensorFileError(path, "not a torch.save file (neither a ZIP archive nor the legacy format's magic number)")
        }
    }

    private static func readZip(fd: Int32, fileSize: Int, path: String) throws -> Contents {
        let archive = try StoredZip(fd: fd, fileSize: fileSize, path: path)
        guard let pickleName = archive.names.first(where: { $0.hasSuffix("/data.pkl") && !$0.dropLast(9).contains("/") }) else {
            throw TensorFileError(path, "a ZIP archive without <name>/data.pkl: not written by torch.save")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if archive.entries[prefix + "byteorder"] != nil {
            let order = String(decoding: try archive.read(prefix + "byteorder", fd: fd), as: UTF8.self)
            guard order == "little" else { throw TensorFileError(path, "stores its tensors \(order)-endian; only little-endian is read") }
        }
        let root = try TorchPickle.load(try archive.read(pickleName, fd: fd), path: path)
        return try contents(of: root, path: path) { name, t in
            let member = prefix + "data/" + t.storageKey
            guard let entry = archive.entries[member] else { throw TensorFileError(path, "\(name): its storage \(member) is not in the archive") }
            return try materialise(name, t, StorageBytes(name: member, offset: entry.dataOffset, size: entry.size), fd: fd, path: path)
        }
    }

    /// The tensors and values of the unpickled object `root`; `tensor` reads a tensor's data.
    static func contents(of root: PickleValue, path: String,
                         tensor: (_ name: String, _ t: TorchTensorRef) throws -> StoredTensor) throws -> Contents {
        var contents = Contents(tensors: [], values: [:])
        func stateDict(_ dict: PickleDict, _ prefix: String) throws {
            for (k, v) in zip(dict.keys, dict.values) {
                guard case .string(let name) = k, case .tensor(let t) = v else { continue }
                contents.tensors.append(try tensor(prefix + "." + name, t))
            }
        }
        switch root {
        case .dict(let top):
            for (k, v) in zip(top.keys, top.values) {
                guard case .string(let key) = k else { continue }
                switch v {
                case .tensor(let t): contents.tensors.append(try tensor(key, t))
                case .dict(let inner):
                    try stateDict(inner, key)
                // NCR and SGRAF save a model as a list of state dicts [img_enc, txt_enc, sim_enc].
                case .list(let parts):
                    for (i, part) in parts.items.enumerated() {
                        switch part {
                        case .dict(let inner): try stateDict(inner, "\(key).\(i)")
                        case .tensor(let t): contents.tensors.append(try tensor("\(key).\(i)", t))
                        default: continue
                        }
                    }
                case .int(let i): contents.values[key] = String(i)
                case .float(let f): contents.values[key] = String(f)
                case .string(let s): contents.values[key] = s
                case .bool(let b): contents.values[key] = String(b)
                default: continue
                }
            }
        case .tensor(let t):
            contents.tensors.append(try tensor("tensor", t))
        default:
            throw TensorFileError(path, "holds neither a dict nor a tensor at its top")
        }
        return contents
    }

    /// Where a container keeps one storage's bytes in the file; `name` is how errors call it.
    struct StorageBytes {
        var name: String
        var offset: Int
        var size: Int
    }

    /// The tensor `t` views in `storage`, checked against the storage's size (the pickle's element
    /// count, the container's bytes) before anything is read.
    static func materialise(_ name: String, _ t: TorchTensorRef, _ storage: StorageBytes, fd: Int32, path: String) throws -> StoredTensor {
        guard let dtype = storageTypes[t.storageType] else {
            throw TensorFileError(path, "\(name) is stored as torch.\(t.storageType); only float32/float64/int64/int32/uint8 tensors are read (convert it with .float() before saving)")
        }
        guard t.storageCount <= Int.max / dtype.size, storage.size == t.storageCount * dtype.size else {
            throw TensorFileError(path, "\(name): storage \(storage.name) holds \(storage.size) bytes, not \(t.storageCount) × \(dtype.size)")
        }
        var count = 1
        for d in t.shape {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw TensorFileError(path, "\(name): shape \(t.shape) is too large") }
            count = c
        }
        // A view with more elements than its storage overlaps itself (expanded or broadcast);
        // state dicts hold none, and reading one would multiply the storage.
        guard count <= t.storageCount else {
            throw TensorFileError(path, "\(name): shape \(t.shape) has more elements than its storage of \(t.storageCount) (an expanded view; save .contiguous() tensors)")
        }
        // The furthest element the view reaches must lie inside the storage.
        if count > 0 {
            var last = t.offset
            for (d, s) in zip(t.shape, t.strides) {
                guard s >= 0 else { throw TensorFileError(path, "\(name): negative stride \(t.strides)") }
                let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(m)
                guard !o1, !o2 else { throw TensorFileError(path, "\(name): stride \(t.strides) is too large") }
                last = sum
            }
            guard last < t.storageCount else {
                throw TensorFileError(path, "\(name): shape \(t.shape) with stride \(t.strides) from offset \(t.offset) runs past its storage of \(t.storageCount) elements")
            }
        }
        if count == 0 { return StoredTensor(name: name, dtype: dtype, shape: t.shape, bytes: []) }
        let size = dtype.size
        var contiguous = true, expected = 1
        for (d, s) in zip(t.shape, t.strides).reversed() where d != 1 {
            if s != expected { contiguous = false }
            expected *= d
        }
        // A contiguous view (every state dict's tensor) is read as its own span, not the storage
        // read whole and then copied.
        if contiguous {
            let bytes = try FileIO.read(fd, count: count * size, at: storage.offset + t.offset * size, path: path)
            return StoredTensor(name: name, dtype: dtype, shape: t.shape, bytes: bytes)
        }
        let data = try FileIO.read(fd, count: storage.size, at: storage.offset, path: path)
        var bytes = [UInt8](repeating: 0, count: count * size)
        var index = [Int](repeating: 0, count: t.shape.count)
        for i in 0..<count {
            var element = t.offset
            for (k, s) in zip(index, t.strides) { element += k * s }
            for b in 0..<size { bytes[i * size + b] = data[element * size + b] }
            // Next index in C order.
            var axis = t.shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < t.shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return StoredTensor(name: name, dtype: dtype, shape: t.shape, bytes: bytes)
    }
}
