import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct RunOptions: Sendable {
    public var jobs: Int
    public var dryRun: Bool
    public var until: String?
    /// How often a stage whose job died for a cluster reason (NODE_FAIL, PREEMPTED, BOOT_FAIL)
    /// is resubmitted; a stage whose command failed is never retried.
    public var retries: Int
    /// Shared with other runners (a concurrent sweep): bounds the stages running across all of them.
    public var slots: JobSlots?
    public init(jobs: Int = 1, dryRun: Bool = false, until: String? = nil, retries: Int = 0, slots: JobSlots? = nil) {
        self.jobs = max(1, jobs)
        self.dryRun = dryRun
        self.until = until
        self.retries = max(0, retries)
        self.slots = slots
    }
}

/// What a run did.
public struct RunSummary: Sendable {
    public struct Failure: Sendable {
        public var stage: String
        public var message: String
        public var log: String?
    }
    public var ran: [String] = []
    public var cached: [String] = []
    public var failed: [Failure] = []
    public var skipped: [String] = []
    /// Stages a dry run would execute.
    public var wouldRun: [String] = []
    public var runFolder: String?
    public var seconds: Double = 0
}

/// Runs a plan against a data folder holding `cache/` and `runs/`.
public final class Runner {
    public let plan: Plan
    public let dataRoot: String
    public let store: CacheStore
    let keyer: StageKeyer
    private let outputLock = NSLock()
    /// Progress lines (stderr in the CLI).
    public var report: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// How often a running stage's latest log line is relayed (seconds).
    public var progressInterval: Double = 10
    /// Standard output of `echo` stages.
    public var echo: (Data) -> Void = { FileHandle.standardOutput.write($0) }
    /// Where stages run: child processes here (the default) or cluster jobs.
    public var executor: StageExecutor = LocalExecutor()

    /// The pipeline file's `environment:` as it applies here (recorded in the run folder).
    public let environment: StageEnvironment

    /// `processEnvironment` and `cpuFlags` decide the pipeline's environment (`StageEnvironment`);
    /// they default to this process's and this machine's.
    public init(plan: Plan, dataRoot: String, toolDirectory: String?,
                processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
                cpuFlags: Set<String>? = StageEnvironment.machineCPUFlags()) throws {
        self.plan = plan
        self.dataRoot = dataRoot
        store = try CacheStore(root: dataRoot + "/cache")
        environment = StageEnvironment.resolve(declared: plan.file.environment, process: processEnvironment, cpuFlags: cpuFlags)
        keyer = StageKeyer(plan: plan, store: store, toolDirectory: toolDirectory,
                           processEnvironment: processEnvironment, cpuFlags: cpuFlags)
    }

    /// What differs from the pipeline's `environment:` values (file and stages), each said once.
    var environmentNotes: [String] {
        var seen: Set<String> = []
        return (environment.notes + plan.stages.flatMap { keyer.environment(of: $0).notes }).filter { seen.insert($0).inserted }
    }

    func say(_ line: String) {
        outputLock.lock()
        report(line)
        outputLock.unlock()
    }

    private enum Outcome {
        case ran(IndexEntry, Double, warnings: [String])
        case cachedByOther(IndexEntry)
        case failed(String, String?)
    }

    public func run(_ options: RunOptions = RunOptions()) throws -> RunSummary {
        for note in environmentNotes { say("note: \(note)") }
        if options.dryRun { return try dryRun(until: options.until, jobs: options.jobs) }
        let start = Date()
        let order = try plan.needed(until: options.until)
        store.removeAbandonedStaging()
        defer { store.statCache.save() }
        var summary = RunSummary()
        var entries: [String: IndexEntry] = [:]
        var blocked: Set<String> = []          // failed or skipped
        var pending = plan.longestChainFirst(order)
        var running = 0
        var logs: [String: (path: String, started: Date, shown: String)] = [:]
        let events = Mailbox<(String, Outcome)>()
        var prepared: [String: PreparedStage] = [:]   // keyed once, even while waiting for a job slot
        // None in a sweep: other runs share the job slots there, so this run's own guess would be
        // short, and the recorded times need not be read.
        var estimate = options.slots == nil
            ? RunEstimate(plan: plan, order: order, jobs: options.jobs) { self.store.latestEntry(forStage: $0)?.seconds } : nil

        while true {
            // Start or settle every stage whose inputs are settled, in order.
            var progressed = true
            while progressed {
                progressed = false
                for (pos, i) in pending.enumerated() {
                    let stage = plan.stages[i]
                    if let bad = stage.dependencies.first(where: { blocked.contains($0) }) {
                        blocked.insert(stage.name)
                        summary.skipped.append(stage.name)
                        say("  skip    \(stage.name) (needs \(bad))")
                    } else if stage.dependencies.allSatisfy({ entries[$0] != nil }) {
                        let p: PreparedStage
                        let firstLook = prepared[stage.name] == nil
                        do {
                            p = try prepared[stage.name] ?? keyer.prepare(stage, inputs: entries)
                            prepared[stage.name] = p
                        } catch {
                            blocked.insert(stage.name)
                            summary.failed.append(.init(stage: stage.name, message: "stage \(stage.name): \(error)", log: nil))
                            say("  FAILED  \(stage.name): \(error)")
                            pending.remove(at: pos)
                            progressed = true
                            break
                        }
                        // A stage waiting for a job slot was already looked up; `execute`
                        // checks again under the key lock in case another run finished it.
                        if firstLook, let e = store.validEntry(forKey: p.key) {
                            entries[stage.name] = e
                            summary.cached.append(stage.name)
                            say("  cached  \(stage.name)")
                            replayStdout(e)
                        } else if running < options.jobs {
                            running += 1
                            let logPath = "\(store.root)/logs/\(stage.name).\(getpid()).\(UUID().uuidString.prefix(8)).log"
                            logs[stage.name] = (logPath, Date(), "")
                            // A thread, not a dispatch queue: it blocks for the whole stage, and a
                            // sweep keeps many of them waiting at once.
                            Thread {
                                let outcome = self.execute(p, logPath: logPath, options: options)
                                events.post((stage.name, outcome))
                            }.start()
                        } else {
                            continue
                        }
                    } else {
                        continue
                    }
                    pending.remove(at: pos)
                    progressed = true
                    break
                }
            }
            if running == 0 { break }
            guard let batch = events.takeAll(timeout: progressInterval) else {
                showProgress(&logs)
                continue
            }
            for (name, outcome) in batch {
                running -= 1
                logs[name] = nil
                switch outcome {
                case .ran(let e, let seconds, let warnings):
                    entries[name] = e
                    summary.ran.append(name)
                    if let i = plan.index[name] { estimate?.finished(plan.stages[i], seconds: seconds) }
                    let settled = Set(entries.keys).union(blocked)
                    let left = estimate?.left(settled: settled, running: logs.mapValues(\.started), now: Date())
                    say("  done    \(name) (\(String(format: "%.1fs", seconds)))"
                        + RunEstimate.progress(settled: settled.count, total: order.count,
                                               elapsed: Date().timeIntervalSince(start), left: left))
                    // A stage's own warnings would otherwise stay in its log, where a user watching
                    // the run never looks; they are the stage's way of saying a result is suspect.
                    if !warnings.isEmpty { say(warnings.map { "  warning \(name): \($0.prefix(400))" }.joined(separator: "\n")) }
                case .cachedByOther(let e):
                    entries[name] = e
                    summary.cached.append(name)
                    replayStdout(e)
                case .failed(let message, let log):
                    blocked.insert(name)
                    summary.failed.append(.init(stage: name, message: message, log: log))
                }
            }
        }
        for i in pending where !blocked.contains(plan.stages[i].name) { summary.skipped.append(plan.stages[i].name) }
        if summary.failed.isEmpty {
            summary.runFolder = try RunFolder.update(plan: plan, dataRoot: dataRoot, store: store, entries: entries,
                                                     environment: environment.values)
        }
        summary.seconds = Date().timeIntervalSince(start)
        let time = String(format: "%.2fs", summary.seconds)
        let folder = summary.runFolder.map { " → \($0)" } ?? ""
        if summary.failed.isEmpty && summary.ran.isEmpty {
            say("everything is up to date (\(summary.cached.count) stages cached, \(time))\(folder)")
        } else {
            say("\(summary.ran.count) ran, \(summary.cached.count) cached, \(summary.failed.count) failed, \(summary.skipped.count) skipped (\(time))\(folder)")
        }
        return summary
    }

    private func replayStdout(_ e: IndexEntry) {
        guard let d = e.stdout, let data = FileManager.default.contents(atPath: store.objectPath(d, "stdout")) else { return }
        outputLock.lock()
        echo(data)
        outputLock.unlock()
    }

    /// Runs one stage under its key lock; publishes objects, then the index entry.
    /// Long stages write progress to their log; the runner relays its latest line now and then.
    private func showProgress(_ logs: inout [String: (path: String, started: Date, shown: String)]) {
        for (name, l) in logs.sorted(by: { $0.key < $1.key }) where Date().timeIntervalSince(l.started) >= progressInterval {
            guard let fd = FileHandle(forReadingAtPath: l.path) else { continue }
            let size = fd.seekToEndOfFile()
            fd.seek(toFileOffset: size > 4096 ? size - 4096 : 0)
            let tail = String(decoding: fd.readDataToEndOfFile(), as: UTF8.self)
            fd.closeFile()
            let last = tail.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !last.isEmpty, last != l.shown else { continue }
            logs[name]?.shown = last
            say("  …       \(name): \(last.prefix(160))")
        }
    }

    private func execute(_ p: PreparedStage, logPath: String, options: RunOptions) -> Outcome {
        let name = p.stage.name
        let lockFD: Int32
        do { lockFD = try store.lock(key: p.key) } catch { return .failed("\(error)", nil) }
        defer { store.unlock(lockFD) }
        if let e = store.validEntry(forKey: p.key) {
            say("  cached  \(name) (finished by another run)")
            return .cachedByOther(e)
        }
        // Taken after the key lock: a runner waiting for another's stage holds no slot.
        options.slots?.acquire()
        defer { options.slots?.release() }
        let staging: String
        // Absolute, so a stage that changes folder still writes where the runner looks.
        do { staging = StageKeyer.absolute(try store.makeStaging(for: name)) } catch { return .failed("\(error)", nil) }
        defer { try? store.removeTree(staging) }
        let stdoutPath = p.stage.echoStdout ? logPath + ".stdout" : nil
        var launch = StageLaunch(
            stage: name, executable: p.executable, arguments: p.arguments(staging: staging), staging: staging,
            logPath: logPath, stdoutPath: stdoutPath,
            echo: p.stage.echoStdout ? { [weak self] d in
                guard let self else { return }
                self.outputLock.lock(); self.echo(d); self.outputLock.unlock()
            } : nil,
            resources: p.stage.resources, workingDirectory: FileManager.default.currentDirectoryPath,
            environment: p.environment, background: p.stage.background)
        let jobRecord = store.jobRecordPath(key: p.key)
        launch.started = { [weak self] job in
            self?.store.recordJob(at: jobRecord, stage: name, job: job, executor: self?.executor.name ?? "?")
            self?.say("  submit  \(name) → \(self?.executor.name == "slurm" ? "SLURM job " : "job ")\(job)")
        }
        defer { unlink(jobRecord) }
        if executor is LocalExecutor { say("  start   \(name)") }
        let began = Date()
        var end: StageEnd
        var attempt = 0
        while true {
            do { end = try executor.run(launch) } catch { return fail(name, "\(error)", log: logPath) }
            guard !end.succeeded, end.clusterFault, attempt < options.retries else { break }
            attempt += 1
            say("  retry   \(name): \(end.description); resubmitting (\(attempt) of \(options.retries))")
            do {
                try store.removeTree(staging)
                guard mkdir(staging, 0o755) == 0 else { throw PipelineError("\(staging): cannot create staging folder") }
            } catch { return fail(name, "\(error)", log: logPath) }
        }
        let seconds = Date().timeIntervalSince(began)
        guard end.succeeded else { return fail(name, "stage \(name) failed (\(end.description))", log: logPath) }
        var outputs: [String: OutputRecord] = [:]
        do {
            for (o, kind) in p.stage.outputs {
                let staged = staging + "/" + o
                guard access(staged, F_OK) == 0 else {
                    throw PipelineError("stage \(name) exited 0 but did not create its output '\(o)' (a \(kind.rawValue))")
                }
                outputs[o] = OutputRecord(kind: kind, digest: try store.store(staged: staged, name: o, kind: kind))
            }
        } catch {
            let text = "\(error)"
            return fail(name, text.hasPrefix("stage ") ? text : "stage \(name): \(text)", log: logPath)
        }
        let warnings = (try? String(contentsOfFile: logPath, encoding: .utf8)).map(StageWarnings.lines) ?? []
        let stdoutDigest = stdoutPath.flatMap { store.storeLog($0, name: "stdout") }
        let logDigest = store.storeLog(logPath, name: "log")
        let entry = IndexEntry(key: p.key, stage: name, record: p.record, outputs: outputs, log: logDigest,
                               stdout: stdoutDigest, seconds: seconds,
                               finished: ISO8601DateFormatter().string(from: Date()), job: end.job)
        do { try store.publish(entry) } catch { return fail(name, "\(error)", log: nil) }
        return .ran(entry, seconds, warnings: warnings)
    }

    private func fail(_ name: String, _ message: String, log: String?) -> Outcome {
        var lines = ["  FAILED  \(name): \(message)" + (log.map { "; log: \($0)" } ?? "")]
        if let log, let text = try? String(contentsOfFile: log, encoding: .utf8) {
            lines += text.split(separator: "\n", omittingEmptySubsequences: false).suffix(8).filter { !$0.isEmpty }.map { "    | \($0)" }
        }
        say(lines.joined(separator: "\n"))
        return .failed(message, log)
    }
}

/// The warning lines of a stage's log: stages write `<tool>: warning: <what>` on stderr.
enum StageWarnings {
    static func lines(in log: String) -> [String] {
        log.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .filter { $0.contains(": warning: ") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// Completed work handed from worker threads to the scheduling loop.
final class Mailbox<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []

    func post(_ item: T) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Waits up to `timeout` seconds for at least one item; nil if none came.
    func takeAll(timeout: Double) -> [T]? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while items.isEmpty {
            if !condition.wait(until: deadline) && items.isEmpty { return nil }
        }
        let all = items
        items = []
        return all
    }

}
