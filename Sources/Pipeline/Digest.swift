import Crypto
import Foundation
import TensorFile
#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 content digests of files and folders, in lowercase hex.
public enum ContentDigest {
    public static func hex<D: Sequence>(_ d: D) -> String where D.Element == UInt8 {
        d.map { String(format: "%02x", $0) }.joined()
    }

    public static func of(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
    public static func of(_ text: String) -> String { of(Data(text.utf8)) }

    /// Streams the file through SHA-256 (constant memory for multi-GB files).
    public static func file(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("\(path): cannot open for hashing (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var hasher = SHA256()
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw PipelineError("\(path): read failed while hashing (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hex(hasher.finalize())
    }

    /// A folder's digest: over its sorted relative paths, entry kinds, executable bits and file
    /// digests (symlinks by their target text). `fileDigest` lets callers plug in a stat cache.
    public static func folder(_ path: String, fileDigest: (String, stat) throws -> String) throws -> String {
        var lines: [String] = []
        try walk(path, relative: "", into: &lines, fileDigest: fileDigest)
        return of(lines.joined())
    }

    private static func walk(_ root: String, relative: String, into lines: inout [String],
                             fileDigest: (String, stat) throws -> String) throws {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted() } catch {
            throw PipelineError("\(dir): cannot list folder")
        }
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            var st = stat()
            guard lstat(full, &st) == 0 else { throw PipelineError("\(full): cannot stat") }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                lines.append("d \(rel)\n")
                try walk(root, relative: rel, into: &lines, fileDigest: fileDigest)
            case S_IFLNK:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? ""
                lines.append("l \(rel) \(target)\n")
            case S_IFREG:
                let x = st.st_mode & S_IXUSR != 0 ? "x" : "f"
                lines.append("\(x) \(rel) \(try fileDigest(full, st))\n")
            default:
                throw PipelineError("\(full): unsupported file type (only files, folders and symlinks)")
            }
        }
    }
}

/// Remembers file digests by (device, inode, size, mtime, ctime) so unchanged files are not
/// re-read. Like git's racy-clean rule, an entry is trusted only if the file had not changed
/// within a second of when it was hashed; otherwise a same-second edit could go unnoticed.
final class StatCache {
    struct Entry: Codable {
        var dev: UInt64, ino: UInt64, size: Int64, mtime: Int64, ctime: Int64
        var digest: String
        /// Wall time of hashing, in nanoseconds.
        var hashedAt: Int64
    }

    private let path: String
    private var entries: [String: Entry] = [:]
    private var dirty = false
    private let lock = NSLock()

    init(path: String) {
        self.path = path
        if let data = FileManager.default.contents(atPath: path),
           let decoded = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries = decoded
        }
    }

    static func nanos(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec) }

    func digest(of path: String, stat st: stat) throws -> String {
        let mtime = StatCache.nanos(st.st_mtim), ctime = StatCache.nanos(st.st_ctim)
        lock.lock()
        let known = entries[path]
        lock.unlock()
        if let e = known, e.dev == UInt64(st.st_dev), e.ino == UInt64(st.st_ino), e.size == Int64(st.st_size),
           e.mtime == mtime, e.ctime == ctime, max(mtime, ctime) + 1_000_000_000 < e.hashedAt {
            return e.digest
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let d = try ContentDigest.file(path)
        lock.lock()
        entries[path] = Entry(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size),
                              mtime: mtime, ctime: ctime, digest: d, hashedAt: StatCache.nanos(now))
        dirty = true
        lock.unlock()
        return d
    }

    /// Digest of a file or folder (following a symlink at `path` itself).
    func digest(ofPath path: String) throws -> (OutputKind, String) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw PipelineError("\(path): does not exist") }
        if st.st_mode & S_IFMT == S_IFDIR {
            return (.dir, try ContentDigest.folder(path) { try digest(of: $0, stat: $1) })
        }
        return (.file, try digest(of: path, stat: st))
    }

    /// Best effort: a lost update only costs a re-hash next time.
    func save() {
        lock.lock()
        defer { lock.unlock() }
        guard dirty, let data = try? JSONEncoder().encode(entries) else { return }
        try? AtomicWrite.write(data, to: path, durable: false)
        dirty = false
    }
}
