import Foundation
import TestSupport
import XCTest
@testable import Pipeline

/// The cluster the tests talk to: SLURM_CONF from `make test-slurm` (Tests/Slurm/cluster.sh).
enum Cluster {
    static var enabled: Bool { ProcessInfo.processInfo.environment["MSCN_SLURM_TESTS"] == "1" }

    /// Skips the test unless `make test-slurm` started a cluster; fails if it claims one but
    /// SLURM does not answer (a broken cluster must not pass as skipped).
    static func require() throws {
        try XCTSkipUnless(enabled, "SLURM tests run with `make test-slurm` (MSCN_SLURM_TESTS=1 and a cluster)")
        let r = try tool("sinfo", ["-h", "-o", "%T"])
        guard r.status == 0, !r.stdout.isEmpty else { throw PipelineError("sinfo does not answer: \(r.stderr)") }
    }

    static func tool(_ name: String, _ args: [String]) throws -> ProcessResult {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return try runProduct("\(dir)/\(name)", args)
        }
        throw PipelineError("\(name) not found")
    }

    /// Jobs of this user whose name is `mscn-<stage>`, as (id, state).
    static func jobs(named stage: String) throws -> [(id: String, state: String)] {
        let r = try tool("squeue", ["-h", "-n", "mscn-\(stage)", "-o", "%i %T"])
        return r.stdout.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count == 2 ? (String(f[0]), String(f[1])) : nil
        }
    }

    /// Waits until a job for `stage` runs; returns its id.
    static func waitForRunningJob(_ stage: String, seconds: Double = 60) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let j = try jobs(named: stage).first(where: { $0.state == "RUNNING" }) { return j.id }
            usleep(100_000)
        }
        throw PipelineError("no running job for stage \(stage) within \(Int(seconds)) s")
    }

    /// Start and end of a finished job (the fields sacct reports; this cluster has no slurmdbd,
    /// so they come from the controller, which keeps finished jobs for MinJobAge = 300 s).
    static func interval(of job: String) throws -> (start: Date, end: Date) {
        let r = try tool("scontrol", ["show", "job", "-o", job])
        func field(_ k: String) -> Date? {
            guard let range = r.stdout.range(of: #"\#(k)=(\S+)"#, options: .regularExpression) else { return nil }
            let value = r.stdout[range].dropFirst(k.count + 1)
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
            return f.date(from: String(value))
        }
        guard let s = field("StartTime"), let e = field("EndTime") else { throw PipelineError("job \(job): no times in \(r.stdout)") }
        return (s, e)
    }
}

/// A temporary project folder for one test: stage scripts, a pipeline file, a Data folder.
final class Project {
    let dir: URL
    var lines: [String] = []
    private let lock = NSLock()

    init(_ label: String) { dir = TestPaths.temporaryDirectory("slurm-" + label) }
    deinit { try? CacheStore(root: dir.path + "/Data/cache").removeTree(dir.path) }

    var path: String { dir.path }
    var data: String { path + "/Data" }

    @discardableResult
    func script(_ name: String, _ body: String) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data("#!/bin/sh\n\(body)\n".utf8))
        chmod(p, 0o755)
        return p
    }

    func write(_ name: String, _ text: String) {
        _ = FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8))
    }

    func read(_ relative: String) -> String? { try? String(contentsOfFile: path + "/" + relative, encoding: .utf8) }

    func pipeline(_ yaml: String) { write("p.yaml", yaml) }

    func runner(_ set: [(String, String)] = [], executor: StageExecutor? = nil, data: String? = nil) throws -> Runner {
        let plan = try Plan(file: try PipelineFile.load(path: path + "/p.yaml"), overrides: set)
        let r = try Runner(plan: plan, dataRoot: data ?? self.data, toolDirectory: nil)
        r.executor = try executor ?? SlurmExecutor(settings: SlurmSettings(pollInterval: 1), store: r.store)
        r.report = { [weak self] l in self?.lock.lock(); self?.lines.append(l); self?.lock.unlock() }
        r.echo = { _ in }
        return r
    }

    /// Runs in-process from inside the project folder (scripts are named relative to it).
    func inFolder<T>(_ body: () throws -> T) rethrows -> T {
        let old = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(old) }
        return try body()
    }

    var log: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }

    func indexEntries() -> [IndexEntry] {
        let dir = data + "/cache/index"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") }.compactMap {
            FileManager.default.contents(atPath: dir + "/" + $0).flatMap { try? JSONDecoder().decode(IndexEntry.self, from: $0) }
        }
    }

    /// Starts `mscn` (the built product) in the project folder without waiting.
    func startMSCN(_ args: [String], tag: String) throws -> Process {
        let exe = TestPaths.productsDirectory.appendingPathComponent("mscn").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.currentDirectoryURL = dir
        _ = FileManager.default.createFile(atPath: path + "/\(tag).out", contents: nil)
        _ = FileManager.default.createFile(atPath: path + "/\(tag).err", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: path + "/\(tag).out")
        p.standardError = FileHandle(forWritingAtPath: path + "/\(tag).err")
        try p.run()
        return p
    }

    func wait(_ p: Process, seconds: Double = 300) {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
    }
}
