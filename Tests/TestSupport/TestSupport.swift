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

    /// A structured sample of floats: every (sign, exponent) with mantissas at both ends and
    /// spread between, and ±16 ulps around each of `points` (with both signs when `bothSigns`).
    public static func sample(around points: [Float], bothSigns: Bool) -> [Float] {
        var bits: [UInt32] = []
        for signExponent in UInt32(0)..<512 {
            let base = signExponent << 23
            for m in [0, 1, 2, 0x7f_fffe, 0x7f_ffff] as [UInt32] { bits.append(base | m) }
            for j in UInt32(1)..<48 { bits.append(base | (j &* 0x2_a9a5 % 0x80_0000)) }
        }
        for p in points {
            for d in -16...16 {
                let b = UInt32(bitPattern: Int32(bitPattern: p.bitPattern) &+ Int32(d))
                bits.append(b)
                if bothSigns { bits.append(b | 0x8000_0000) }
            }
        }
        return bits.map { Float(bitPattern: $0) }
    }

    /// How many `xs` give different bits in `ours` and `platform` (NaN matches any NaN), with
    /// the first few described.
    public static func mismatches(_ xs: [Float], ours: (Float) -> Float, platform: (Float) -> Float) -> (count: Int, first: String) {
        var count = 0, first: [String] = []
        for x in xs {
            let a = ours(x), b = platform(x)
            if a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern { continue }
            count += 1
            if first.count < 5 { first.append("x = \(x) (0x\(String(x.bitPattern, radix: 16))): ours \(a), platform \(b)") }
        }
        return (count, first.joined(separator: "; "))
    }

    /// The finite `xs` where `ours` is more than `ulps` float ulps from `exact` (a double-precision
    /// form; the ulp is at least the smallest subnormal), described.
    public static func beyondUlps(_ ulps: Double, _ xs: [Float], ours: (Float) -> Float, exact: (Double) -> Double) -> [String] {
        xs.filter(\.isFinite).compactMap { x in
            let y = ours(x), e = exact(Double(x))
            guard e.magnitude <= Double(Float.greatestFiniteMagnitude) else { return nil }
            let ulp = max(Double(Float(e).ulp), Double(Float.leastNonzeroMagnitude))
            return abs(Double(y) - e) <= ulps * ulp ? nil : "x = \(x): ours \(y), exact \(e)"
        }
    }

    /// Whether the CPU has FMA (glibc then runs the FMA builds of its float functions).
    public static var cpuHasFMA: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        return info.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").contains("fma") ?? false
    }
}
