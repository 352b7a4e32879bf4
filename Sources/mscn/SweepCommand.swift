import ArgumentParser
import Foundation
import Pipeline
import Reporting
import Retrieval
import StageKit
import TensorFile

/// `mscn sweep`: every grid combination through the runner (shared stages come from its cache),
/// then a results table and report comparing MSCN with the baseline.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a pipeline (and its comparison rows) over a parameter grid; tabulate mean ± std per grid point.",
        discussion: """
            Each combination runs like `mscn run PIPELINE --set ...`, then each comparison pipeline \
            (--compare; by default Pipelines/standard.yaml, oracle.yaml and baseline.yaml, those that \
            exist) with the same values; stages whose inputs did not change (ingest, features, each \
            noise map, shared warm-ups) come from the cache. The --replicate axis \
            (default seed) is averaged: the table has one row per remaining grid point and method. \
            Writes results.csv, results.md and report.html to --out and prints the table.
            """
    )

    @Argument(help: "The pipeline file (YAML), e.g. Pipelines/mscn.yaml.")
    var pipeline: String
    @Option(parsing: .singleValue, help: ArgumentHelp("A swept parameter and its values (repeatable); values split at commas or spaces.", valueName: "name=v1,v2,..."))
    var grid: [String] = []
    @Option(name: .customLong("set"), help: ArgumentHelp("A fixed parameter for every run (repeatable).", valueName: "key=value"))
    var overrides: [String] = []
    @Option(parsing: .singleValue, help: ArgumentHelp("A comparison pipeline run with the same parameters (repeatable; default: Pipelines/standard.yaml, oracle.yaml, baseline.yaml, those that exist).", valueName: "file"))
    var compare: [String] = []
    @Option(help: ArgumentHelp("Same as --compare (kept for older scripts).", valueName: "file"))
    var baseline: String?
    @Flag(help: "Run no comparison pipeline.")
    var noBaseline = false
    @Option(help: ArgumentHelp("The grid axis averaged over (mean ± std); 'none' for none.", valueName: "name"))
    var replicate: String = "seed"
    @Option(name: .short, help: ArgumentHelp("Run up to N stages at once across the whole sweep; with N > 1 every grid point runs concurrently (shared stages run once).", valueName: "N"))
    var jobs: Int = 1
    @OptionGroup var execution: ExecutorOptions
    @Option(help: ArgumentHelp("Data folder that holds cache/ and runs/.", valueName: "dir"))
    var cache: String = "Data"
    @Option(help: ArgumentHelp("Folder for results.csv, results.md, report.html (default <cache>/sweeps/<name>).", valueName: "dir"))
    var out: String?
    @Flag(help: "Say how many stages each run would run and about how long the sweep takes with -j N, without running anything.")
    var dryRun = false

    static let defaultComparisons = ["Pipelines/standard.yaml", "Pipelines/oracle.yaml", "Pipelines/baseline.yaml"]

    func validate() throws {
        if jobs < 1 { throw ValidationError("-j must be at least 1") }
        let g: SweepGrid
        do { g = try SweepGrid(parsing: grid) } catch { throw ValidationError("\(error)") }
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else { throw ValidationError("--set expects key=value, got '\(o)'") }
            if g.axes.contains(where: { $0.name == String(o[..<eq]) }) {
                throw ValidationError("'\(o[..<eq])' is both swept (--grid) and fixed (--set)")
            }
        }
        // "seed" is the default and may be absent from the grid (nothing is averaged then).
        if replicate != "none" && replicate != "seed" && !g.axes.contains(where: { $0.name == replicate }) {
            throw ValidationError("--replicate \(replicate) is not a --grid axis (axes: \(g.axes.map(\.name).joined(separator: ", ")))")
        }
        let given = compare + (baseline.map { [$0] } ?? [])
        if let b = given.first, noBaseline { throw ValidationError("--compare/--baseline \(b) and --no-baseline contradict each other") }
        for b in given where !FileManager.default.fileExists(atPath: b) { throw ValidationError("comparison pipeline \(b) does not exist") }
    }

    func run() throws {
        Stage.run("mscn sweep") {
            let g = try SweepGrid(parsing: grid)
            let fixed = overrides.map { o -> (name: String, value: String) in
                let eq = o.firstIndex(of: "=") ?? o.endIndex
                return (String(o[..<eq]), String(o[o.index(after: eq)...]))
            }
            var methods = [(name: "MSCN", file: try PipelineFile.load(path: pipeline))]
            // A swept or fixed name the main pipeline does not declare is a typo: every run would
            // be the defaults, labelled as if they differed.
            let declaredByMain = Set(methods[0].file.params.map(\.name))
            for name in g.axes.map(\.name) + fixed.map(\.name) where !declaredByMain.contains(name) {
                throw StageError("'\(name)' is not a parameter of \(pipeline) (it declares \(declaredByMain.sorted().joined(separator: ", ")))")
            }
            // A method is named by its pipeline's `name`; --baseline keeps its historical name "baseline".
            let given = compare.map { (path: $0, name: String?.none) } + (baseline.map { [(path: $0, name: "baseline")] } ?? [])
            let comparisons = noBaseline ? [] : !given.isEmpty ? given
                : Self.defaultComparisons.filter { FileManager.default.fileExists(atPath: $0) }.map { (path: $0, name: String?.none) }
            for c in comparisons where (c.path as NSString).standardizingPath != (pipeline as NSString).standardizingPath {
                let file = try PipelineFile.load(path: c.path)
                let name = c.name ?? file.name
                guard !methods.contains(where: { $0.name == name }) else {
                    throw StageError("two compared pipelines are named '\(name)'", path: c.path)
                }
                methods.append((name: name, file: file))
            }
            if methods.count == 1 && !noBaseline { Stage.note("no comparison pipeline (\(Self.defaultComparisons.joined(separator: ", ")) absent): MSCN only") }
            let outDir = out ?? cache + "/sweeps/" + Self.folderName(methods[0].file.name, g)
            if !dryRun { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) }

            var runs: [SweepRun] = [], notes: [String] = []
            let points = g.points
            if dryRun {
                var forecast = SweepForecast(jobs: jobs)
                for (point, m) in points.flatMap({ p in methods.map { (p, $0) } }) {
                    let declared = Set(m.file.params.map(\.name))
                    let label = "\(m.name) " + point.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    do {
                        let runner = try Runner(plan: try Plan(file: m.file, overrides: (fixed + point).filter { declared.contains($0.name) }),
                                                dataRoot: cache, toolDirectory: PipelineOptions.toolDirectory())
                        print(try forecast.add(label, runner: runner))
                    } catch {
                        print("\(label): \(error)")
                        notes.append("\(label): \(error)")
                    }
                }
                print(forecast.summary)
                if !notes.isEmpty { throw StageError("\(notes.count) runs cannot be planned; first: \(notes[0])") }
                return
            }
            StageSignals.forwardTermination(interrupt: execution.executor == .slurm)
            // One executor for the whole sweep: a termination signal cancels every grid point's jobs.
            let executor = try execution.makeExecutor(store: try CacheStore(root: cache + "/cache"))
            var tasks: [(point: Int, method: String, label: String, plan: Result<Plan, Error>)] = []
            for (i, point) in points.enumerated() {
                for m in methods {
                    let declared = Set(m.file.params.map(\.name))
                    let sets = (fixed + point).filter { declared.contains($0.name) }
                    let dropped = (fixed + point).filter { !declared.contains($0.name) }.map(\.name)
                    if !dropped.isEmpty { Stage.note("\(m.name): ignores \(dropped.joined(separator: ", ")) (not a parameter of \(m.file.source))") }
                    let label = point.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    tasks.append((i, m.name, label, Result { try Plan(file: m.file, overrides: sets) }))
                }
            }
            let started = Date()
            let slots = JobSlots(jobs)
            func makeRunner(_ t: (point: Int, method: String, label: String, plan: Result<Plan, Error>), prefix: Bool) throws -> Runner {
                let runner = try Runner(plan: try t.plan.get(), dataRoot: cache, toolDirectory: PipelineOptions.toolDirectory())
                runner.executor = executor
                if prefix {
                    let tag = "[\(t.method) \(t.label)]"
                    runner.report = { FileHandle.standardError.write(Data(($0.split(separator: "\n", omittingEmptySubsequences: false).map { "\(tag) \($0)" }.joined(separator: "\n") + "\n").utf8)) }
                }
                return runner
            }
            var results: [Result<RunSummary, Error>] = []
            let options = RunOptions(jobs: jobs, retries: execution.retries, slots: slots)
            if jobs == 1 {
                for t in tasks {
                    Stage.note("[\(t.point + 1)/\(points.count)] \(t.method) \(t.label)" + Self.eta(started, done: t.point, total: points.count))
                    results.append(Result { try makeRunner(t, prefix: false).run(options) })
                }
            } else {
                // Every grid point at once; the shared slots keep at most `jobs` stages running.
                Stage.note("\(tasks.count) runs at once, at most \(jobs) stages in flight (\(executor.name) executor)")
                var runners: [Runner] = [], made: [Int: Error] = [:]
                for (k, t) in tasks.enumerated() {
                    do { runners.append(try makeRunner(t, prefix: true)) } catch { made[k] = error }
                }
                var concurrent = ConcurrentRuns.run(runners, options: options).makeIterator()
                for k in tasks.indices {
                    results.append(made[k].map { .failure($0) } ?? concurrent.next() ?? .failure(PipelineError("no result")))
                }
            }
            if StageSignals.isTerminating { StageSignals.parkUntilExit() }
            for (t, result) in zip(tasks, results) {
                var run = SweepRun(method: t.method, grid: Dictionary(points[t.point], uniquingKeysWith: { $1 }), metrics: nil)
                do {
                    let summary = try result.get()
                    if let f = summary.failed.first {
                        notes.append("\(t.method) \(t.label): failed: \(f.message)")
                    } else if let folder = summary.runFolder {
                        let record = RunRecord.load(folder)
                        run.folder = folder
                        run.metrics = record.metrics
                        run.extras = record.extras
                        if record.metrics == nil && record.problems.isEmpty { notes.append("\(t.method) \(t.label): no metrics.json in \(folder)") }
                        notes += record.problems.map { "\(t.method) \(t.label): \($0)" }
                    }
                } catch {
                    notes.append("\(t.method) \(t.label): \(error)")
                }
                runs.append(run)
            }
            Stage.note(String(format: "sweep: %d runs in %.1f s, at most %d stages in flight at once", tasks.count,
                              Date().timeIntervalSince(started), slots.peak))

            let table = SweepTable(grid: g, replicate: replicate == "none" ? nil : replicate, methods: methods.map(\.name), runs: runs)
            let title = "Sweep of \(methods[0].file.name): " + g.axes.map { "\($0.name) ∈ {\($0.values.joined(separator: ", "))}" }.joined(separator: ", ")
            try AtomicWrite.write(Data(table.csv().utf8), to: outDir + "/results.csv")
            try AtomicWrite.write(Data(table.markdown(title: title, notes: notes).utf8), to: outDir + "/results.md")
            try AtomicWrite.write(Data(SweepReport.render(table: table, runs: runs, title: title, reportDirectory: outDir, notes: notes).utf8),
                                  to: outDir + "/report.html")
            print(table.textTable().text())
            Stage.note("wrote \(outDir)/results.csv, results.md, report.html")
            let failed = runs.filter { $0.metrics == nil }.count
            if !notes.isEmpty { throw StageError("\(failed) of \(runs.count) runs failed or have no metrics; first problem: \(notes[0])") }
        }
    }

    static func folderName(_ name: String, _ g: SweepGrid) -> String {
        let raw = ([name] + g.axes.map { $0.name + $0.values.joined(separator: "_") }).joined(separator: "-")
        return String(raw.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
    }

    static func eta(_ start: Date, done: Int, total: Int) -> String {
        guard done > 0 else { return "" }
        let left = Date().timeIntervalSince(start) / Double(done) * Double(total - done)
        return String(format: " (about %.0f min left)", left / 60)
    }
}
