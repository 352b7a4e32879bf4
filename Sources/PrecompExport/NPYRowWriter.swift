import Foundation
import StageKit
import TensorFile

/// Writes a `.npy` file row by row (header first, rows appended), for arrays gathered from
/// scattered rows of other files; the row count is fixed up front and checked at `close()`.
final class NPYRowWriter {
    let path: String
    let rowBytes: Int
    let rows: Int
    private let handle: FileHandle
    private var written = 0

    init(path: String, dtype: DType, shape: [Int]) throws {
        self.path = path
        rows = shape.first ?? 1
        rowBytes = shape.dropFirst().reduce(dtype.size, *)
        guard FileManager.default.createFile(atPath: path, contents: Data(NPY.headerBytes(dtype: dtype, shape: shape))),
              let h = FileHandle(forWritingAtPath: path) else {
            throw StageError("cannot create", path: path)
        }
        handle = h
        h.seekToEndOfFile()
    }

    func append(_ bytes: [UInt8]) throws {
        guard bytes.count % max(rowBytes, 1) == 0 else {
            throw StageError("row of \(bytes.count) bytes, expected a multiple of \(rowBytes)", path: path)
        }
        do { try handle.write(contentsOf: bytes) } catch {
            throw StageError("cannot write (\(IOErrorText.reason(error)))", path: path)
        }
        written += rowBytes > 0 ? bytes.count / rowBytes : 0
    }

    func close() throws {
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw StageError("cannot finish writing (\(IOErrorText.reason(error)))", path: path)
        }
        guard written == rows else { throw StageError("wrote \(written) rows, expected \(rows)", path: path) }
    }
}
