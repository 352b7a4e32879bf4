import Foundation

/// Streams rows (axis 0) of a large `.npy` file without loading it whole
/// (Flickr30K's training features are 8.5 GB).
public final class NPYReader {
    public let path: String
    public let dtype: DType
    public let shape: [Int]
    public let rowBytes: Int
    /// Size of the data in bytes.
    public let byteCount: Int
    private let dataOffset: Int
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        let fd = try FileIO.openForReading(path)
        do {
            (dtype, shape, dataOffset, rowBytes, byteCount) = try Self.parse(fd: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public var rowCount: Int { shape.first ?? 1 }

    /// The raw bytes of rows `rows`.
    public func readRows(_ rows: Range<Int>) throws -> [UInt8] {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw TensorFileError(path, "rows \(rows) outside 0..<\(rowCount)")
        }
        let n = rows.count * rowBytes
        return try [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
            try read(bytes: rows.lowerBound * rowBytes, into: UnsafeMutableRawBufferPointer(buffer))
            count = n
        }
    }

    /// Data bytes from `start` into `buffer` (filled completely).
    func read(bytes start: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard start >= 0, buffer.count <= byteCount - start else {
            throw TensorFileError(path, "bytes \(start)..<\(start + buffer.count) outside the \(byteCount) data bytes")
        }
        do { try FileIO.read(fd, into: buffer, at: dataOffset + start) } catch let p as FileIO.Problem {
            throw TensorFileError(path, p.message)
        }
    }

    private static func parse(fd: Int32, path: String) throws
        -> (DType, [Int], dataOffset: Int, rowBytes: Int, byteCount: Int) {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw TensorFileError(path, "not a regular file")
        }
        let size = Int(st.st_size)
        guard size >= 10 else { throw TensorFileError(path, "not an .npy file (\(size) bytes)") }
        let lead = try FileIO.read(fd, count: min(12, size), at: 0, path: path)
        var headerEnd = 0
        switch lead[6] {
        case 1: headerEnd = 10 + (Int(lead[8]) | Int(lead[9]) << 8)
        case 2 where lead.count >= 12, 3 where lead.count >= 12: headerEnd = 12 + LittleEndian.read(Int.self, lead[8..<12])
        default: headerEnd = 10  // NPY.header names the problem
        }
        guard headerEnd <= min(size, 12 + (1 << 20)) else { throw TensorFileError(path, "truncated .npy header") }
        let (dtype, shape, offset) = try NPY.header(try FileIO.read(fd, count: headerEnd, at: 0, path: path), path: path)
        var rowBytes = dtype.size
        for d in shape.dropFirst() {
            let (p, o) = rowBytes.multipliedReportingOverflow(by: d)
            guard !o else { throw TensorFileError(path, "shape \(shape) overflows") }
            rowBytes = p
        }
        let (total, o) = rowBytes.multipliedReportingOverflow(by: shape.first ?? 1)
        guard !o else { throw TensorFileError(path, "shape \(shape) overflows") }
        guard size - offset == total else {
            throw TensorFileError(path, "data is \(size - offset) bytes, shape \(shape) of \(dtype.rawValue) needs \(total)")
        }
        return (dtype, shape, offset, rowBytes, total)
    }
}
