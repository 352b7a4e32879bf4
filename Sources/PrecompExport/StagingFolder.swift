import Foundation
import StageKit
import TensorFile

/// An output folder built under a hidden temporary name beside its destination and moved into
/// place by one rename once complete, so a killed or failed export never leaves a folder that
/// looks finished. Dropped before `publish()`, it deletes what it wrote.
public final class StagingFolder {
    public let destination: String
    public let path: String
    private var published = false

    /// Refuses an existing destination unless `replace`; clears staging folders of dead exports.
    public init(destination: String, replace: Bool) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: destination).standardizedFileURL
        self.destination = url.path
        if fm.fileExists(atPath: self.destination) && !replace {
            throw StageError("already exists (pass --force to replace it)", path: self.destination)
        }
        let parent = url.deletingLastPathComponent().path
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw StageError("cannot create the folder", path: parent)
        }
        let prefix = "." + url.lastPathComponent + ".partial-"
        for name in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? fm.removeItem(atPath: parent + "/" + name)
            }
        }
        path = parent + "/" + prefix + "\(getpid())"
        try? fm.removeItem(atPath: path)
        do { try fm.createDirectory(atPath: path, withIntermediateDirectories: false) } catch {
            throw StageError("cannot create a staging folder (\(IOErrorText.reason(error)))", path: path)
        }
    }

    deinit {
        if !published { try? FileManager.default.removeItem(atPath: path) }
    }

    public func file(_ relative: String) throws -> String {
        let p = path + "/" + relative
        let dir = (p as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StageError("cannot create the folder", path: dir)
        }
        return p
    }

    /// Moves the finished folder into place; an older destination is replaced only after the new
    /// one is complete (renamed aside, then deleted).
    public func publish() throws {
        let fm = FileManager.default
        var old: String?
        if fm.fileExists(atPath: destination) {
            let aside = path.replacingOccurrences(of: ".partial-", with: ".old-")
            guard rename(destination, aside) == 0 else {
                throw StageError("cannot move the existing folder aside (\(String(cString: strerror(errno))))", path: destination)
            }
            old = aside
        }
        guard rename(path, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            if let old { _ = rename(old, destination) }
            throw StageError("cannot move the finished export into place (\(reason))", path: destination)
        }
        published = true
        if let old { try? fm.removeItem(atPath: old) }
    }
}
