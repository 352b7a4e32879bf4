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

    /// Fails before any work when an output's folder is missing, not a folder or not writable:
    /// a stage that trains for an hour would otherwise find out when it writes, and lose the hour.
    public static func requireWritableFolders(_ outputs: [String?]) throws {
        for case let path? in outputs {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            let problem: Int32
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
                problem = ENOENT
            } else if !isFolder.boolValue {
                problem = ENOTDIR
            } else if access(folder, W_OK) != 0 {
                problem = errno
            } else {
                continue
            }
            throw StageError("\(String(cString: strerror(problem))) (its folder \(folder), checked before any work)", path: path)
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
