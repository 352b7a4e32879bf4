import Foundation
import TensorFile
#if canImport(Glibc)
import Glibc
#endif

/// One cached output: its kind and content digest.
public struct OutputRecord: Codable, Equatable, Sendable {
    public var kind: OutputKind
    public var digest: String
}

/// What the index keeps for one stage key: the outputs, the full key record, and how it ran.
public struct IndexEntry: Codable, Sendable {
    public var key: String
    public var stage: String
    public var record: KeyRecord
    public var outputs: [String: OutputRecord]
    public var log: String?
    /// Captured standard output of an `echo` stage, replayed when the stage is cached.
    public var stdout: String?
    public var seconds: Double
    public var finished: String
    /// The cluster job that computed it (absent for local stages and older entries).
    public var job: String?
}

/// The cache folder:
/// - `objects/<sha256>/<name>`: immutable, read-only outputs and logs (a digest folder may hold
///   the same content under several output names);
/// - `index/<key>.json`: the entry of each stage key, written after its objects;
/// - `stages/<stage>.json`: the latest entry per stage name (for `explain`);
/// - `tmp/<pid>-…/`: staging folders; `logs/`: logs of running or failed stages;
/// - `locks/<key>.lock`: held while a key runs, so concurrent runs do not duplicate work;
/// - `jobs/<key>.json`: the cluster job computing a key, while it runs (for `status`);
/// - `statcache.json`: file digests by stat fingerprint.
public final class CacheStore {
    public let root: String
    let statCache: StatCache

    public init(root: String) throws {
        self.root = root
        for sub in ["objects", "index", "stages", "tmp", "logs", "locks", "jobs"] {
            do {
                try FileManager.default.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true)
            } catch { throw PipelineError("\(root)/\(sub): cannot create cache folder") }
        }
        statCache = StatCache(path: "\(root)/statcache.json")
    }

    func objectPath(_ digest: String, _ name: String) -> String { "\(root)/objects/\(digest)/\(name)" }

    func entry(forKey key: String) -> IndexEntry? {
        guard let data = FileManager.default.contents(atPath: "\(root)/index/\(key).json") else { return nil }
        return try? JSONDecoder().decode(IndexEntry.self, from: data)
    }

    /// The entry for `key` if it and all its objects are present.
    func validEntry(forKey key: String) -> IndexEntry? {
        guard let e = entry(forKey: key) else { return nil }
        for (name, o) in e.outputs where access(objectPath(o.digest, name), F_OK) != 0 { return nil }
        return e
    }

    func latestEntry(forStage stage: String) -> IndexEntry? {
        guard let data = FileManager.default.contents(atPath: "\(root)/stages/\(stage).json") else { return nil }
        return try? JSONDecoder().decode(IndexEntry.self, from: data)
    }

    func publish(_ e: IndexEntry) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try enc.encode(e) } catch { throw PipelineError("cannot encode index entry: \(error)") }
        try AtomicWrite.write(data, to: "\(root)/index/\(e.key).json")
        // Only `explain` reads this copy; losing it to a power cut costs nothing but history.
        try AtomicWrite.write(data, to: "\(root)/stages/\(e.stage).json", durable: false)
    }

    /// Moves a finished output into the object store; returns its digest. The staged copy is
    /// consumed. Objects are made read-only so a stage reading them cannot alter them.
    func store(staged: String, name: String, kind: OutputKind, durable: Bool = true) throws -> String {
        var st = stat()
        guard lstat(staged, &st) == 0 else { throw PipelineError("\(staged): missing") }
        let isDir = st.st_mode & S_IFMT == S_IFDIR
        guard isDir == (kind == .dir), isDir || st.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError("output '\(name)' was declared a \(kind.rawValue) but is \(isDir ? "a folder" : "not a regular file")")
        }
        let digest = isDir ? try ContentDigest.folder(staged) { p, _ in try ContentDigest.file(p) } : try ContentDigest.file(staged)
        if durable { try syncTree(staged) }
        let dir = "\(root)/objects/\(digest)"
        let target = "\(dir)/\(name)"
        if access(target, F_OK) == 0 {
            try? removeTree(staged)
            return digest
        }
        if mkdir(dir, 0o755) != 0, errno != EEXIST { throw PipelineError("\(dir): cannot create object folder") }
        if rename(staged, target) != 0 {
            // Another run published the same content first (a folder cannot replace a folder).
            guard errno == ENOTEMPTY || errno == EEXIST, access(target, F_OK) == 0 else {
                throw PipelineError("\(target): cannot publish object (\(String(cString: strerror(errno))))")
            }
            try? removeTree(staged)
            return digest
        }
        makeReadOnly(target)
        if durable { AtomicWrite.syncFolder(dir) }
        return digest
    }

    /// Stores a log or captured stdout file as an object named `name`.
    func storeLog(_ path: String, name: String) -> String? {
        guard access(path, F_OK) == 0 else { return nil }
        return try? store(staged: path, name: name, kind: .file, durable: false)
    }

    private func syncTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            for n in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { try syncTree(path + "/" + n) }
            AtomicWrite.syncFolder(path)
        } else if st.st_mode & S_IFMT == S_IFREG {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
        }
    }

    private func makeReadOnly(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFDIR {
            for n in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { makeReadOnly(path + "/" + n) }
            chmod(path, 0o555)
        } else if kind == S_IFREG {
            chmod(path, st.st_mode & S_IXUSR != 0 ? 0o555 : 0o444)
        }
    }

    /// Removes a tree, restoring write permission on folders first (objects are read-only).
    func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            chmod(path, 0o755)
            for n in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { try removeTree(path + "/" + n) }
            if rmdir(path) != 0 { throw PipelineError("\(path): cannot remove") }
        } else if unlink(path) != 0 {
            throw PipelineError("\(path): cannot remove")
        }
    }

    /// A fresh staging folder, named after this process so leftovers of dead runs can be found.
    func makeStaging(for stage: String) throws -> String {
        let path = "\(root)/tmp/\(getpid())-\(stage)-\(UUID().uuidString.prefix(8))"
        guard mkdir(path, 0o755) == 0 else { throw PipelineError("\(path): cannot create staging folder") }
        return path
    }

    /// Deletes staging folders left by runs that no longer exist (killed or crashed).
    func removeAbandonedStaging() {
        for n in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp")) ?? [] {
            guard let pid = Int32(n.prefix(while: { $0 != "-" })), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? removeTree("\(root)/tmp/\(n)") }
        }
    }

    static let identityFile = ".mscn-cache-id"

    /// A random name of this cache folder, made once: a cluster job compares it with what it
    /// sees at the same path, which tells a shared cache from a node's own folder of that name.
    func identity() throws -> String {
        let path = "\(root)/\(Self.identityFile)"
        if let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }),
           !text.isEmpty { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
        // Written under a temporary name and linked into place: link fails when another runner
        // won the race, and nobody ever reads a half-written identity.
        let tmp = "\(root)/tmp/.identity-\(getpid())-\(UUID().uuidString.prefix(8))"
        try AtomicWrite.write(Data((UUID().uuidString + "\n").utf8), to: tmp)
        defer { unlink(tmp) }
        if link(tmp, path) != 0 && errno != EEXIST {
            throw PipelineError("\(path): cannot create (\(String(cString: strerror(errno))))")
        }
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }), !text.isEmpty else {
            throw PipelineError("\(path): cannot read the cache identity")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Blocks until this process holds the lock for `key`; the kernel drops it if we die.
    func lock(key: String) throws -> Int32 {
        let path = "\(root)/locks/\(key).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PipelineError("\(path): cannot open lock") }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { close(fd); throw PipelineError("\(path): cannot lock") }
        }
        return fd
    }

    func unlock(_ fd: Int32) {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
