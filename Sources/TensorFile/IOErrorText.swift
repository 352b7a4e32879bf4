import Foundation

/// Why a file operation failed, in the system's words ("No space left on device"), from the
/// errors Foundation throws: its own codes carry the POSIX error underneath, which its
/// `localizedDescription` hides behind "The operation could not be completed".
public enum IOErrorText {
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        let code: Int32?
        if ns.domain == NSPOSIXErrorDomain {
            code = Int32(ns.code)
        } else if ns.domain == NSCocoaErrorDomain {
            code = posixCode(ns)
        } else {
            return "\(error)"
        }
        return code.map { String(cString: strerror($0)) } ?? ns.localizedDescription
    }

    /// The POSIX error behind a Foundation file error: the one it wraps, else its code's.
    private static func posixCode(_ ns: NSError) -> Int32? {
        // On Linux the underlying error is often a Swift `POSIXError`, which `as? NSError` misses.
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? Error, case let posix = underlying as NSError,
           posix.domain == NSPOSIXErrorDomain {
            return Int32(posix.code)
        }
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return ENOENT
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return EACCES
        case NSFileWriteOutOfSpaceError: return ENOSPC
        case NSFileWriteVolumeReadOnlyError: return EROFS
        case NSFileWriteFileExistsError: return EEXIST
        default: return nil
        }
    }

    /// `<path>: <reason>` when Foundation names the file, else the reason alone.
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain, let path = ns.userInfo[NSFilePathErrorKey] as? String else { return reason(error) }
        return "\(path): \(reason(error))"
    }
}
