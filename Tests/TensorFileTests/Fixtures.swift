import Foundation
import XCTest
@testable import TensorFile

/// Test data and byte-level surgery on tensor files.
enum Fixtures {
    /// A tensor filled with pseudo-random bytes (a pure function of `seed`).
    static func tensor(_ dtype: DType, _ shape: [Int], name: String = "t", seed: UInt64 = 1) -> StoredTensor {
        let n = shape.reduce(1, *) * dtype.size
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let bytes = (0..<n).map { _ -> UInt8 in
            s ^= s << 13
            s ^= s >> 7
            s ^= s << 17
            return UInt8(truncatingIfNeeded: s >> 24)
        }
        return StoredTensor(name: name, dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Writes through the internal initializer so tests get many frames from little data.
    static func write(_ path: String, _ tensors: [StoredTensor], frameBytes: Int,
                      metadata: [String: String] = [:]) throws {
        let w = try TensorFileWriter(path: path, metadata: metadata, compressionLevel: 3, frameBytes: frameBytes)
        for t in tensors { try w.write(t) }
        try w.finish()
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func save(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// The footer of a well-formed file and where it starts.
    static func footer(of bytes: [UInt8]) throws -> (footer: Footer, start: Int) {
        let n = bytes.count
        let length = Int(LittleEndian.read(UInt64.self, bytes[(n - 24)..<(n - 16)]))
        let start = n - 24 - length
        return (try JSONDecoder().decode(Footer.self, from: Data(bytes[start..<(n - 24)])), start)
    }

    /// Replaces the footer with `json` and a matching trailer (valid CRC): the file lies
    /// consistently, as a hostile writer would.
    static func replaceFooter(_ bytes: [UInt8], json: [UInt8]) throws -> [UInt8] {
        let (_, start) = try footer(of: bytes)
        return Array(bytes[..<start]) + json + LittleEndian.bytes(UInt64(json.count))
            + LittleEndian.bytes(CRC32C.checksum(json)) + LittleEndian.bytes(UInt32(Layout.version)) + Layout.tailMagic
    }

    static func replaceFooter(_ bytes: [UInt8], _ edit: (inout Footer) -> Void) throws -> [UInt8] {
        var (f, _) = try footer(of: bytes)
        edit(&f)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try replaceFooter(bytes, json: [UInt8](try encoder.encode(f)))
    }

    /// Opens `path` and inflates everything; returns the error, failing the test if there is
    /// none or if it is not a `TensorFileError` naming `path`.
    @discardableResult
    static func expectRejected(_ path: String, _ what: String, file: StaticString = #filePath,
                               line: UInt = #line) -> TensorFileError? {
        do {
            let r = try TensorFileReader(path: path)
            for t in r.tensors { _ = try r.read(t.name) }
            try r.verify()
            XCTFail("\(what): accepted", file: file, line: line)
        } catch let e as TensorFileError {
            XCTAssertEqual(e.path, path, "\(what): error names another file", file: file, line: line)
            XCTAssertFalse(e.message.isEmpty, file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), "\(what): multi-line error", file: file, line: line)
            return e
        } catch {
            XCTFail("\(what): unexpected error type \(error)", file: file, line: line)
        }
        return nil
    }
}
