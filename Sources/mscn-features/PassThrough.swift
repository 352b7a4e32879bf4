import Foundation
import StageKit
import TensorFile

/// Puts an existing file at `out` without copying its bytes when possible: a hard link made under
/// a temporary name and renamed into place (atomic); a copy only across file systems.
enum PassThrough {
    static func link(_ source: String, to out: String) throws -> String {
        let url = URL(fileURLWithPath: out)
        let temp = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        unlink(temp)
        var how = "hard link"
        if Foundation.link(source, temp) != 0 {
            let reason = errno
            guard reason == EXDEV || reason == EPERM || reason == EMLINK else {
                throw StageError("cannot link to \(out) (\(String(cString: strerror(reason))))", path: source)
            }
            do { try FileManager.default.copyItem(atPath: source, toPath: temp) } catch {
                unlink(temp)
                throw StageError("cannot copy to \(out) (\(IOErrorText.reason(error)))", path: source)
            }
            how = "copied across file systems"
        }
        guard rename(temp, out) == 0 else {
            unlink(temp)
            throw StageError("cannot rename into place", path: out)
        }
        return how
    }
}
