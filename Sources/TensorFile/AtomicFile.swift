import Foundation

/// A file written under a temporary name in its destination folder and moved into place by
/// `commit()` (fsync file, rename, fsync folder), so readers see the old file or the complete
/// new one, never a half-written one. Dropped before `commit()`, it removes its temporary.
final class AtomicFile {
    let path: String
    let tempPath: String
    private var fd: Int32
    /// Committed or abandoned: nothing left to clean up.
    private var settled = false

    init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        tempPath = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = Foundation.open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TensorFileError(path, "cannot create a file in \(dir) (\(String(cString: strerror(errno))))")
        }
    }

    deinit { abandon() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw TensorFileError(path, "write after the file was closed") }
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw TensorFileError(path, "cannot write (\(String(cString: strerror(errno))))")
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// `durable: false` skips the syncs: for files cheap to make again (a generated data set's
    /// images, the cache's bookkeeping), where thousands of fsyncs would cost more than a rerun.
    func commit(durable: Bool = true) throws {
        guard fd >= 0 else { throw TensorFileError(path, "file already closed") }
        if durable, fsync(fd) != 0 { throw TensorFileError(path, "cannot sync (\(String(cString: strerror(errno))))") }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw TensorFileError(path, "cannot close (\(String(cString: strerror(errno))))") }
        guard rename(tempPath, path) == 0 else {
            throw TensorFileError(path, "cannot move the finished file into place (\(String(cString: strerror(errno))))")
        }
        settled = true
        if durable { AtomicWrite.syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path) }
    }

    /// Closes and removes the temporary (no-op once committed).
    func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !settled {
            unlink(tempPath)
            settled = true
        }
    }
}

/// Whole small files (JSON, logs, reports, images) written like the tensor files: a reader sees
/// the old file or the complete new one, and a failed write leaves no temporary behind.
public enum AtomicWrite {
    public static func write(_ data: Data, to path: String, durable: Bool = true) throws {
        let file = try AtomicFile(path: path)
        try data.withUnsafeBytes { try file.write($0) }
        try file.commit(durable: durable)
    }

    /// Makes the renames inside `folder` durable. Some file systems refuse a folder sync; the
    /// files themselves are already safe then, so a failure here is not an error.
    public static func syncFolder(_ folder: String) {
        let fd = Foundation.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}
