import Foundation
import XCTest
@testable import Pipeline
import TestSupport

/// A temporary project folder with stage scripts, a pipeline file and a Data folder.
final class Fixture {
    let dir: URL
    var lines: [String] = []
    var echoed = Data()
    var progressInterval = 10.0
    private let lock = NSLock()

    init(_ label: String = "pipeline") {
        dir = TestPaths.temporaryDirectory(label)
    }

    deinit { try? CacheStore(root: dir.path + "/Data/cache").removeTree(dir.path) }

    var path: String { dir.path }
    var data: String { dir.path + "/Data" }

    /// Writes an executable `#!/bin/sh` script and returns its path.
    @discardableResult
    func script(_ name: String, _ body: String) -> String {
        let p = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: p, contents: Data("#!/bin/sh\n\(body)\n".utf8))
        chmod(p, 0o755)
        return p
    }

    func write(_ name: String, _ text: String) {
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data(text.utf8))
    }

    func read(_ relative: String) -> String? {
        try? String(contentsOfFile: dir.appendingPathComponent(relative).path, encoding: .utf8)
    }

    func pipeline(_ yaml: String) -> String {
        write("p.yaml", yaml)
        return dir.appendingPathComponent("p.yaml").path
    }

    func runner(_ set: [String: String] = [:]) throws -> Runner {
        let file = try PipelineFile.load(path: path + "/p.yaml")
        let plan = try Plan(file: file, overrides: set.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) })
        let r = try Runner(plan: plan, dataRoot: data, toolDirectory: nil)
        r.report = { [weak self] l in self?.lock.lock(); self?.lines.append(l); self?.lock.unlock() }
        r.echo = { [weak self] d in self?.lock.lock(); self?.echoed.append(d); self?.lock.unlock() }
        r.progressInterval = progressInterval
        return r
    }

    /// Runs the pipeline in-process from inside the fixture folder (relative script paths work).
    @discardableResult
    func run(_ set: [String: String] = [:], _ options: RunOptions = RunOptions()) throws -> RunSummary {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        return try runner(set).run(options)
    }

    func inFolder<T>(_ body: () throws -> T) rethrows -> T {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        return try body()
    }

    /// Every index entry in the cache.
    func indexEntries() -> [IndexEntry] {
        let dir = data + "/cache/index"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.compactMap {
            FileManager.default.contents(atPath: dir + "/" + $0).flatMap { try? JSONDecoder().decode(IndexEntry.self, from: $0) }
        }
    }

    /// Checks that every index entry's objects exist and still have the recorded digest.
    func assertCacheConsistent(file: StaticString = #filePath, line: UInt = #line) throws {
        for e in indexEntries() {
            XCTAssertEqual(e.key, e.record.key, "index entry key differs from its record", file: file, line: line)
            for (name, o) in e.outputs {
                let p = data + "/cache/objects/\(o.digest)/\(name)"
                let actual = o.kind == .dir ? try ContentDigest.folder(p) { q, _ in try ContentDigest.file(q) } : try ContentDigest.file(p)
                XCTAssertEqual(actual, o.digest, "object \(p) does not match its digest", file: file, line: line)
            }
        }
    }
}

/// The built `mscn` executable (built by `swift build --build-tests` with every product).
func mscnExecutable() throws -> String {
    let p = TestPaths.productsDirectory.appendingPathComponent("mscn").path
    guard FileManager.default.isExecutableFile(atPath: p) else {
        throw PipelineError("\(p) is missing: build all products first (swift build --build-tests)")
    }
    return p
}

/// Starts `mscn` without waiting; stdout and stderr go to files in the fixture folder.
func startMSCN(_ args: [String], in fixture: Fixture, tag: String, environment: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try mscnExecutable())
    p.arguments = args
    p.currentDirectoryURL = fixture.dir
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    _ = FileManager.default.createFile(atPath: fixture.path + "/\(tag).out", contents: nil)
    _ = FileManager.default.createFile(atPath: fixture.path + "/\(tag).err", contents: nil)
    p.standardOutput = FileHandle(forWritingAtPath: fixture.path + "/\(tag).out")
    p.standardError = FileHandle(forWritingAtPath: fixture.path + "/\(tag).err")
    try p.run()
    return p
}
