import Foundation
import TensorFile

/// A failure a stage reports to its user: one line, naming the file where there is one.
public struct StageError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var path: String?

    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}

/// Entry point helpers shared by every stage executable.
public enum Stage {
    /// Runs `body`; any thrown error is printed as `<stage>: error: <message>` and the process
    /// exits with status 1 (never a crash trace for bad input). Before it, malloc is held to one
    /// arena (`MallocArenas`), as the stages' threads start inside `body`.
    public static func run(_ stage: String, _ body: () throws -> Void) {
        MallocArenas.limit(environment: ProcessInfo.processInfo.environment)
        do {
            try body()
        } catch {
            fail(stage, describe(error))
        }
    }

    /// The error as one readable line: Foundation's file errors (a missing folder, no
    /// permission, a folder where a file should be) as `<path>: <reason>`, not as their dump.
    public static func describe(_ error: Error) -> String { IOErrorText.describe(error) }

    public static func fail(_ stage: String, _ message: String) -> Never {
        FileHandle.standardError.write(Data("\(stage): error: \(message)\n".utf8))
        exit(1)
    }

    /// For a stage whose work is not built yet: says so and exits non-zero.
    public static func notImplemented(_ stage: String) -> Never {
        fail(stage, "not implemented yet")
    }

    /// Prints a line to standard error (progress and notes; standard output stays for results).
    public static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
