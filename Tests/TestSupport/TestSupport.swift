import Foundation

/// Paths and process helpers shared by the test targets.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The reference dumps (MSCN parity folders), kept inside the repository so the tests pass
    /// in a clone with nothing beside it. Provenance: `Tests/ModelTests/Golden/README.md`.
    public static var parityGolden: URL {
        packageRoot.appendingPathComponent("Tests/ModelTests/Golden/mscn-parity")
    }

    /// Regression dumps from the parity grid (with float64 truth). Provenance:
    /// `Tests/ModelTests/Golden/parity-grid/README.md`.
    public static var parityGridGolden: URL {
        packageRoot.appendingPathComponent("Tests/ModelTests/Golden/parity-grid")
    }

    /// The reference Beta-mixture purification case. Provenance: `Tests/DataPrepTests/Golden/bmm/README.md`.
    public static var bmmGolden: URL {
        packageRoot.appendingPathComponent("Tests/DataPrepTests/Golden/bmm")
    }

    /// The folder holding the built products (executables sit beside the test bundle).
    public static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// A fresh, empty temporary folder.
    public static func temporaryDirectory(_ label: String = "mscn-test") -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// What a finished process left behind.
public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a built executable of this package (by product name) or any path, and waits for it.
public func runProduct(_ name: String, _ arguments: [String], cwd: URL? = nil,
                       environment: [String: String]? = nil) throws -> ProcessResult {
    let exe = name.contains("/") ? URL(fileURLWithPath: name) : TestPaths.productsDirectory.appendingPathComponent(name)
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    if let cwd { p.currentDirectoryURL = cwd }
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes before waiting so a chatty child cannot block on a full pipe.
    let errBox = DataBox()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Holds the bytes a reader thread collects; the dispatch group orders the write before the read.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// The platform's math library, for tests that compare our bit-identical forms with it.
public enum PlatformLibm {
    /// `gnu_get_libc_version()`, looked up at run time (its header is not in the Glibc module).
    public static var glibcVersion: String? {
        #if canImport(Glibc)
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "gnu_get_libc_version") else { return nil }
        typealias Version = @convention(c) () -> UnsafePointer<CChar>
        return String(cString: unsafeBitCast(symbol, to: Version.self)())
        #else
        return nil
        #endif
    }

    /// Whether the CPU has FMA (glibc then runs the FMA builds of its float functions).
    public static var cpuHasFMA: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        return info.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").contains("fma") ?? false
    }
}
