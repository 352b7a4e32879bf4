import Foundation

/// Positioned reads that either fill the buffer or say why not.
enum FileIO {
    struct Problem: Error { var message: String }

    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Problem(message: "read failed (\(String(cString: strerror(errno))))")
            }
            if n == 0 { throw Problem(message: "file ends at \(offset + done), expected \(buffer.count - done) more bytes (truncated?)") }
            done += n
        }
    }

    /// `count` bytes at `offset`; failures name `path`.
    static func read(_ fd: Int32, count: Int, at offset: Int, path: String) throws -> [UInt8] {
        do { return try read(fd, count: count, at: offset) } catch let p as Problem {
            throw TensorFileError(path, p.message)
        }
    }

    static func read(_ fd: Int32, count: Int, at offset: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(fd, into: UnsafeMutableRawBufferPointer(buffer), at: offset)
            initialized = count
        }
    }

    /// A one-line reason for a JSON decoding failure.
    static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        let text: String
        switch error as? DecodingError {
        case .dataCorrupted(let c)?: text = c.debugDescription + at(c.codingPath)
        case .keyNotFound(let k, let c)?: text = "missing \(k.stringValue)" + at(c.codingPath)
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: text = c.debugDescription + at(c.codingPath)
        default: text = "\(error)"
        }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}

extension FileIO {
    /// A read-only descriptor for `path`, or an error that says whether the file is missing.
    static func openForReading(_ path: String) throws -> Int32 {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let why = errno == ENOENT ? "no such file" : "cannot open for reading (\(String(cString: strerror(errno))))"
            throw TensorFileError(path, why)
        }
        return fd
    }
}
