import ArgumentParser
import Foundation
import Reporting
import StageKit

/// `mscn runs`: past runs as an experiment table.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List past runs: the parameters that differ between them, best round and test metrics.",
        discussion: "Reads <cache>/runs/*/ (params.json, metrics.json, best.json). '*' marks the latest run."
    )

    @Option(help: ArgumentHelp("Data folder that holds cache/ and runs/.", valueName: "dir"))
    var cache: String = "Data"
    @Flag(help: "Show every parameter, not only those that differ between runs.")
    var allParams = false
    @Flag(help: "Tab-separated output (for scripts).")
    var tsv = false

    func run() throws {
        Stage.run("mscn runs") {
            let runsDir = cache + "/runs"
            let runs = try RunRecord.list(runsDir)
            for r in runs { for p in r.problems { Stage.note("warning: \(p)") } }
            guard !runs.isEmpty else {
                print("no runs in \(runsDir)")
                return
            }
            let t = RunComparison.table(runs, latest: RunRecord.latest(runsDir), allParams: allParams)
            print(tsv ? t.tsv() : t.text())
        }
    }
}

/// `mscn diff`: which parameters, metrics and stage outputs differ between two runs.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show which parameters, test metrics and stage outputs differ between two runs.",
        discussion: "A run is a name under <cache>/runs (e.g. 'latest') or a path to a run folder."
    )

    @Argument(help: "The first run.") var runA: String
    @Argument(help: "The second run.") var runB: String
    @Option(help: ArgumentHelp("Data folder that holds cache/ and runs/.", valueName: "dir"))
    var cache: String = "Data"

    func run() throws {
        Stage.run("mscn diff") {
            let a = try Self.resolve(runA, cache: cache), b = try Self.resolve(runB, cache: cache)
            for r in [a, b] { for p in r.problems { Stage.note("warning: \(p)") } }
            print(RunComparison.diff(a, b))
        }
    }

    static func resolve(_ run: String, cache: String) throws -> RunRecord {
        var isDir: ObjCBool = false
        var path = run.contains("/") ? run : cache + "/runs/" + run
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw StageError("no such run folder", path: path)
        }
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
            path = target.hasPrefix("/") ? target : (path as NSString).deletingLastPathComponent + "/" + target
        }
        return RunRecord.load(path)
    }
}
