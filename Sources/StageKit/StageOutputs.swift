import ArgumentParser
import Foundation

/// A stage's outputs as one unit: no two of them at the same path, and none left behind that
/// looks finished when a later one cannot be written.
public enum StageOutputs {
    /// Fails, as a usage error (an executable's `validate()`), when two of the given outputs
    /// (flag, path) name the same file: the second write would silently replace the first.
    public static func requireDistinct(_ outputs: [(flag: String, path: String?)]) throws {
        var seen: [String: String] = [:]
        for case let (flag, path?) in outputs {
            let key = URL(fileURLWithPath: path).standardizedFileURL.path
            if let other = seen[key] { throw ValidationError("\(path): \(other) and \(flag) name the same file; give each its own") }
            seen[key] = flag
        }
    }

    /// Runs each write in order; when one fails, removes the files the earlier ones wrote and
    /// rethrows, so the stage leaves none of its outputs or all of them.
    public static func writeAll(_ writes: [(path: String, write: () throws -> Void)]) throws {
        var done: [String] = []
        for w in writes {
            do { try w.write() } catch {
                for path in done { unlink(path) }
                throw error
            }
            done.append(w.path)
        }
    }
}
