import ArgumentParser
import Foundation
import Pipeline
import StageKit

/// Options shared by `run`, `status` and `explain`: which pipeline, which parameters, which cache.
struct PipelineOptions: ParsableArguments {
    @Argument(help: "The pipeline file (YAML), e.g. Pipelines/mscn.yaml.")
    var pipeline: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a parameter (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Data folder that holds cache/ and runs/.", valueName: "dir"))
    var cache: String = "Data"

    func validate() throws {
        for o in overrides where !o.contains("=") || o.hasPrefix("=") {
            throw ValidationError("--set expects key=value, got '\(o)'")
        }
    }

    func makeRunner() throws -> Runner {
        let pairs = overrides.map { o -> (name: String, value: String) in
            let eq = o.firstIndex(of: "=") ?? o.endIndex
            return (String(o[..<eq]), String(o[o.index(after: eq)...]))
        }
        let plan = try Plan(file: try PipelineFile.load(path: pipeline), overrides: pairs)
        return try Runner(plan: plan, dataRoot: cache, toolDirectory: Self.toolDirectory())
    }

    /// The folder of the running `mscn`: its siblings are the stage executables.
    static func toolDirectory() -> String? {
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return (exe as NSString).deletingLastPathComponent
        }
        guard let arg0 = CommandLine.arguments.first, arg0.contains("/") else { return nil }
        return (URL(fileURLWithPath: arg0).standardizedFileURL.path as NSString).deletingLastPathComponent
    }
}

/// `mscn run`: brings the pipeline's outputs up to date.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the stale stages of a pipeline, in dependency order.",
        discussion: """
            Results are cached by stage key (command, executable digest, input digests) under \
            <cache>/cache; the run's outputs are linked from <cache>/runs/<name>/ and <cache>/runs/latest.
            """
    )

    @OptionGroup var options: PipelineOptions

    @Option(name: .short, help: ArgumentHelp("Run up to N independent stages at once.", valueName: "N"))
    var jobs: Int = 1

    @Flag(help: "List the stages that would run, and why, without running them.")
    var dryRun = false

    @Option(help: ArgumentHelp("Run only this stage (or every round of a foreach stage) and what it needs.", valueName: "stage"))
    var until: String?

    @OptionGroup var execution: ExecutorOptions

    func validate() throws {
        if jobs < 1 { throw ValidationError("-j must be at least 1") }
    }

    func run() throws {
        Stage.run("mscn run") {
            StageSignals.forwardTermination(interrupt: execution.executor == .slurm)
            let result = Result {
                let runner = try options.makeRunner()
                if !dryRun { runner.executor = try execution.makeExecutor(store: runner.store) }
                return try runner.run(RunOptions(jobs: jobs, dryRun: dryRun, until: until, retries: execution.retries))
            }
            if StageSignals.isTerminating { StageSignals.parkUntilExit() }
            let summary = try result.get()
            guard let first = summary.failed.first else { return }
            var message = first.message + (first.log.map { "; log: \($0)" } ?? "")
            if summary.failed.count > 1 {
                message += " (and \(summary.failed.count - 1) more failed: \(summary.failed.dropFirst().map(\.stage).joined(separator: ", ")))"
            }
            throw StageError(message)
        }
    }
}

/// `mscn status`: which stages would run.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "List the stale stages of a pipeline and why they are stale.")

    @OptionGroup var options: PipelineOptions

    @Option(name: .short, help: ArgumentHelp("Estimate the time the stale stages take with N job slots, as 'mscn run -j N'.", valueName: "N"))
    var jobs: Int = 1

    func validate() throws {
        if jobs < 1 { throw ValidationError("-j must be at least 1") }
    }

    func run() throws {
        Stage.run("mscn status") {
            let runner = try options.makeRunner()
            let all = try runner.assess()
            let stale = all.filter { $0.state != .fresh }
            let records = runner.store.jobRecords()
            for a in stale {
                // A stage some runner has handed to the cluster: say which job, so users can look it up.
                let flight = (records[a.stage] ?? []).filter { $0.key == a.key }.map { "\($0.executor == "slurm" ? "SLURM job" : "job") \($0.job) since \($0.submitted) (runner pid \($0.pid) on \($0.host))" }
                print("\(a.state == .error ? "error" : "stale")  \(a.stage): \(a.reasons.joined(separator: "; "))"
                      + (flight.isEmpty ? "" : "; in flight as \(flight.joined(separator: ", "))"))
            }
            print(stale.isEmpty ? "everything is up to date (\(all.count) stages)"
                  : "\(stale.count) of \(all.count) stages stale" + Runner.timeToRunText(runner.timeToRun(all, jobs: jobs), jobs: jobs))
        }
    }
}

/// `mscn explain`: the field-by-field difference behind a stage's staleness.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Say which parameter, input or binary changed for a stage since its latest cached run.")

    @OptionGroup var options: PipelineOptions

    @Argument(help: "A stage instance name, e.g. train_b@3.")
    var stage: String

    func run() throws {
        Stage.run("mscn explain") {
            print(try options.makeRunner().explain(stage))
        }
    }
}
