import Foundation

/// Why a file operation failed, in the system's words ("No space left on device"), from the
/// errors Foundation throws: its own codes carry the POSIX error underneath, which its
/// `localizedDescription` hides behind "The operation could not be completed".
public enum IOErrorText {
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        guard ns.domain == NSCocoaErrorDomain else { return "\(error)" }
        // On Linux the underlying error is often a Swift `POSIXError`, which `as? NSError` misses.
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? Error, case let posix = underlying as NSError,
           posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return String(cString: strerror(ENOENT))
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return String(cString: strerror(EACCES))
        case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
        case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
        case NSFileWriteFileExistsError: return String(cString: strerror(EEXIST))
        default: return ns.localizedDescription
        }
    }

    /// `<path>: <reason>` when Foundation names the file, else the reason alone.
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain, let path = ns.userInfo[NSFilePathErrorKey] as? String else {
            return ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain ? reason(error) : "\(error)"
        }
        return "\(path): \(reason(error))"
    }
}
