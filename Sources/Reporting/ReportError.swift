import Foundation
import TensorFile

/// A report input that cannot be used: one line naming the file and the problem.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var path: String?

    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// Reading small files with errors that name them.
enum InputFile {
    static func data(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ReportError("no such file", path: path)
        }
        guard !isDir.boolValue, let d = FileManager.default.contents(atPath: path) else {
            throw ReportError("cannot read file", path: path)
        }
        return d
    }

    static func decode<T: Decodable>(_ type: T.Type, _ path: String, what: String) throws -> T {
        let d = try data(path)
        do {
            return try JSONDecoder().decode(T.self, from: d)
        } catch DecodingError.keyNotFound(let key, _) {
            throw ReportError("not a \(what) (no \"\(key.stringValue)\")", path: path)
        } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx) {
            let at = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw ReportError("not a \(what) (bad value at \"\(at)\")", path: path)
        } catch {
            throw ReportError("not a \(what) (invalid JSON)", path: path)
        }
    }

    /// A JSON object with arbitrary values.
    static func object(_ path: String, what: String) throws -> [String: Any] {
        let d = try data(path)
        guard let obj = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] else {
            throw ReportError("not a \(what) (expected a JSON object)", path: path)
        }
        return obj
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        do { try AtomicWrite.write(Data(text.utf8), to: path) } catch let e as TensorFileError {
            throw ReportError(e.message, path: path)
        }
    }
}

/// Deterministic number text (no locale, fixed digits).
enum Fmt {
    static func f(_ v: Double, _ digits: Int = 2) -> String {
        guard v.isFinite else { return v.isNaN ? "n/a" : (v > 0 ? "inf" : "-inf") }
        let s = String(format: "%.\(digits)f", v)
        return s == "-0" || s.hasPrefix("-0.") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// Two decimals for ordinary sizes, whole numbers from 100, three digits from 10^5 (the
    /// Beta shapes of an untrained net reach 10^7).
    static func compact(_ v: Double) -> String {
        guard v.isFinite else { return f(v) }
        if abs(v) >= 1e5 { return String(format: "%.3g", v) }
        return abs(v) >= 100 ? f(v, 0) : f(v, 2)
    }

    /// Shortest text for a tick value: no trailing zeros.
    static func tick(_ v: Double) -> String {
        if abs(v) < 1e-12 { return "0" }
        var s = String(format: "%.6g", v)
        if s.contains("."), !s.contains("e") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}
