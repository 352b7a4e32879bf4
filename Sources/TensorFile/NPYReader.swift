import Foundation

/// Streams rows (axis 0) of a large `.npy` file without loading it whole
/// (Flickr30K's training features are 8.5 GB).
public final class NPYReader {
    public let path: String
    public let dtype: DType
    public let shape: [Int]
    public let rowBytes: Int
    private let dataOffset: Int
    private let handle: FileHandle

    public init(path: String) throws {
        self.path = path
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw TensorFileError(path, FileManager.default.fileExists(atPath: path) ? "cannot open for reading" : "no such file")
        }
        handle = h
        let head = [UInt8](h.readData(ofLength: 12))
        var headerLen = 0
        if head.count >= 10 && head[6] == 1 {
            headerLen = 10 + (Int(head[8]) | Int(head[9]) << 8)
        } else if head.count >= 12 {
            headerLen = 12 + (0..<4).reduce(0) { $0 | Int(head[8 + $1]) << (8 * $1) }
        }
        guard headerLen > 0, headerLen <= 1 << 20 else { throw TensorFileError(path, "not an .npy file (bad header)") }
        h.seek(toFileOffset: 0)
        let (dtype, shape, offset) = try NPY.header([UInt8](h.readData(ofLength: headerLen)), path: path)
        self.dtype = dtype
        self.shape = shape
        dataOffset = offset
        rowBytes = shape.dropFirst().reduce(1, *) * dtype.size
        let size = Int(h.seekToEndOfFile())
        let expected = shape.reduce(1, *) * dtype.size
        guard size - offset == expected else {
            throw TensorFileError(path, "data is \(size - offset) bytes, shape \(shape) of \(dtype.rawValue) needs \(expected)")
        }
    }

    deinit { try? handle.close() }

    public var rowCount: Int { shape.first ?? 1 }

    /// The raw bytes of rows `rows`.
    public func readRows(_ rows: Range<Int>) throws -> [UInt8] {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw TensorFileError(path, "rows \(rows) outside 0..<\(rowCount)")
        }
        handle.seek(toFileOffset: UInt64(dataOffset + rows.lowerBound * rowBytes))
        let data = handle.readData(ofLength: rows.count * rowBytes)
        guard data.count == rows.count * rowBytes else { throw TensorFileError(path, "truncated data") }
        return [UInt8](data)
    }
}
