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
