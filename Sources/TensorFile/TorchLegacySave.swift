import Foundation

/// `torch.save` files in the format before PyTorch 1.6 (`_use_new_zipfile_serialization=False`
/// still writes it): no archive, but pickles one after another (the magic number, the protocol
/// version 1001, a dict of the writer's byte order and type sizes, the object, the list of its
/// storages' keys), then each listed storage as an 8-byte little-endian element count and its
/// raw bytes. Nothing locates a storage but the sizes of all before it, so every storage the
/// object refers to must be listed, once, with the element count the object gives it, and the
/// last must end where the file does.
enum TorchLegacySave {
    /// Element sizes of the storages `TorchSave` does not read: their bytes must still be stepped over.
    private static let otherElementSizes: [String: Int] = [
        "HalfStorage": 2, "BFloat16Storage": 2, "BoolStorage": 1, "CharStorage": 1, "ShortStorage": 2,
        "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "QInt8Storage": 1, "QUInt8Storage": 1,
        "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1, "UntypedStorage": 1,
    ]

    /// The pickles' share of a file is small next to its storages (a state dict's is some 200
    /// bytes a tensor), so only the start of the file is read to parse them, doubled until they fit.
    private static let firstRead = 1 << 14

    /// Reads a legacy file whose pickles after the magic number's start at `pickles`.
    static func read(fd: Int32, fileSize: Int, pickles: Int, path: String) throws -> TorchSave.Contents {
        let (object, keys, end) = try readPickles(fd: fd, fileSize: fileSize, from: pickles, path: path)

        // The storages follow in the listed order, each behind its element count.
        var located: [String: TorchSave.StorageBytes] = [:]
        var at = end
        for key in keys {
            guard let storage = object.storages[key] else {
                throw TensorFileError(path, "lists storage \(key), which the saved object does not use (not written by torch.save?)")
            }
            guard located[key] == nil else { throw TensorFileError(path, "lists storage \(key) twice") }
            guard let elementSize = TorchSave.storageTypes[storage.type]?.size ?? otherElementSizes[storage.type] else {
                throw TensorFileError(path, "storage \(key) is a torch.\(storage.type), whose element size is not known")
            }
            guard fileSize - at >= 8 else {
                throw TensorFileError(path, "file ends at \(fileSize) before storage \(key)'s element count at \(at) (truncated?)")
            }
            let header = try FileIO.read(fd, count: 8, at: at, path: path)
            let count = LittleEndian.read(UInt64.self, header[...])
            guard count == UInt64(storage.count) else {
                throw TensorFileError(path, "storage \(key) at byte \(at) holds \(count) elements, but the saved object gives it \(storage.count)")
            }
            let (size, overflow) = storage.count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, size <= fileSize - at - 8 else {
                throw TensorFileError(path, "storage \(key) of \(storage.count) × \(elementSize) bytes from byte \(at + 8) runs past the end of the file at \(fileSize) (truncated?)")
            }
            located[key] = TorchSave.StorageBytes(name: key, offset: at + 8, size: size)
            at += 8 + size
        }
        if let missing = object.storages.keys.sorted().first(where: { located[$0] == nil }) {
            throw TensorFileError(path, "the saved object uses storage \(missing), which is not among the file's storages")
        }
        guard at == fileSize else {
            throw TensorFileError(path, "\(fileSize - at) bytes follow the last storage, which ends at byte \(at) (more than one object saved into the file?)")
        }
        return try TorchSave.contents(of: object.value, path: path) { name, t in
            guard let storage = located[t.storageKey] else {
                throw TensorFileError(path, "\(name): its storage \(t.storageKey) is not among the file's storages")
            }
            return try TorchSave.materialise(name, t, storage, fd: fd, path: path)
        }
    }

    private static func readPickles(fd: Int32, fileSize: Int, from start: Int,
                                    path: String) throws -> (object: TorchPickle.Parsed, keys: [String], end: Int) {
        var length = min(fileSize, firstRead)
        while true {
            let head = try FileIO.read(fd, count: length, at: 0, path: path)
            do {
                return try parse(head, from: start, complete: length == fileSize, path: path)
            } catch is TorchPickle.Incomplete {
                length = min(fileSize, length * 2)
            }
        }
    }

    /// The pickles after the magic number in `head`, the start of the file (all of it if
    /// `complete`): the saved object, the list of storage keys, and where the storages start.
    private static func parse(_ head: [UInt8], from start: Int, complete: Bool,
                              path: String) throws -> (object: TorchPickle.Parsed, keys: [String], end: Int) {
        func pickle(_ label: String, at: Int) throws -> TorchPickle.Parsed {
            try TorchPickle.parse(head, from: at, label: label, path: path, complete: complete)
        }
        let version = try pickle("the protocol version pickle", at: start)
        guard case .int(let number) = version.value else { throw TensorFileError(path, "the protocol version pickle holds no number") }
        guard number == 1001 else { throw TensorFileError(path, "legacy torch.save protocol version \(number); PyTorch writes only 1001") }
        let info = try pickle("the system information pickle", at: version.end)
        guard case .dict(let system) = info.value else { throw TensorFileError(path, "the system information pickle holds no dict") }
        // PyTorch wrote storages in the writer's byte order, and says which it was here.
        if case .bool(false)? = system[string: "little_endian"] {
            throw TensorFileError(path, "was written on a big-endian machine; only little-endian files are read: load and save it again on a little-endian one")
        }
        let object = try pickle("the object's pickle", at: info.end)
        let list = try pickle("the storage list pickle", at: object.end)
        guard case .list(let items) = list.value else { throw TensorFileError(path, "the storage list pickle holds no list") }
        var keys: [String] = []
        for item in items.items {
            guard case .string(let key) = item else { throw TensorFileError(path, "the storage list holds something other than storage keys") }
            keys.append(key)
        }
        return (object, keys, list.end)
    }
}
