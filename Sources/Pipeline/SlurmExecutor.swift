import Foundation
import TensorFile
#if canImport(Glibc)
import Glibc
#endif

/// Each stage is one SLURM batch job: `sbatch --parsable` with the stage's resources, its log as
/// the job's output and its shared staging folder, then `scontrol show job` (or `sacct`, once the
/// controller has forgotten the job) until the job reaches a final state. No scheduler of our own.
public final class SlurmExecutor: StageExecutor, @unchecked Sendable {
    public let name = "slurm"
    public let settings: SlurmSettings
    let cacheRoot: String
    let cacheIdentity: String
    /// Held from sbatch until its job id is recorded, so `cancelAll` cannot miss a job.
    private let submitLock = NSLock()
    private let stateLock = NSLock()
    private var inFlight: Set<String> = []
    private var stopped = false

    /// `cacheRoot` must be absolute; every node must see it at the same path.
    public init(settings: SlurmSettings, store: CacheStore) throws {
        self.settings = settings
        cacheRoot = StageKeyer.absolute(store.root)
        cacheIdentity = try store.identity()
        _ = try ClusterTool.which("sbatch").orThrow(PipelineError("sbatch not found on PATH: --executor slurm needs SLURM's command-line tools"))
    }

    /// Job ids submitted and not yet seen to end.
    public var jobsInFlight: [String] {
        stateLock.lock()
        defer { stateLock.unlock() }
        return inFlight.sorted()
    }

    public func run(_ launch: StageLaunch) throws -> StageEnd {
        let scriptPath = launch.logPath + ".sbatch"
        do {
            try AtomicWrite.write(Data(SlurmJob.script(launch, cacheRoot: cacheRoot, cacheIdentity: cacheIdentity).utf8),
                                 to: scriptPath, durable: false)
        } catch { throw PipelineError("stage \(launch.stage): cannot write its batch script: \(error)") }
        defer { unlink(scriptPath) }
        chmod(scriptPath, 0o755)
        let job = try submit(launch, scriptPath: scriptPath)
        launch.started(job)
        let status = wait(for: job, stage: launch.stage)
        stateLock.lock()
        inFlight.remove(job)
        stateLock.unlock()

        var detail: String?
        let logText = (try? String(contentsOfFile: launch.logPath, encoding: .utf8)) ?? ""
        if status.exit == .code(SlurmJob.unsharedCacheStatus),
           let line = logText.split(separator: "\n").first(where: { $0.contains(SlurmJob.unsharedCacheMarker) }) {
            detail = String(line).replacingOccurrences(of: "mscn: ", with: "")
        } else if status.state == "UNKNOWN" {
            detail = status.reason
        }
        // A job's stdout went to its own file; the log gets it too, as with a local stage.
        var appendix = Data()
        if let out = launch.stdoutPath, let data = FileManager.default.contents(atPath: out), !data.isEmpty {
            launch.echo?(data)
            appendix.append(data)
        }
        let times = [status.start.map { "started \($0)" }, status.end.map { "ended \($0)" }].compactMap { $0 }.joined(separator: ", ")
        appendix.append(Data(("mscn: SLURM job \(job) on \(status.node ?? "?"): \(status.state)"
                              + (status.exit.map { ", \($0.description)" } ?? "") + (times.isEmpty ? "" : ", \(times)") + "\n").utf8))
        if let fh = FileHandle(forWritingAtPath: launch.logPath) ?? createLog(launch.logPath) {
            fh.seekToEndOfFile()
            fh.write(appendix)
            fh.closeFile()
        }
        return StageEnd(exit: status.exit, state: status.state, job: job, detail: detail)
    }

    private func createLog(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    private func submit(_ launch: StageLaunch, scriptPath: String) throws -> String {
        let args = SlurmJob.sbatchArguments(launch, script: scriptPath, settings: settings)
        var lastError = ""
        // A busy controller refuses now and then; a few tries with a pause ride that out.
        for attempt in 0..<4 {
            if attempt > 0 { Thread.sleep(forTimeInterval: Double(attempt) * 2) }
            submitLock.lock()
            stateLock.lock()
            let halted = stopped
            stateLock.unlock()
            if halted {
                submitLock.unlock()
                throw PipelineError("stage \(launch.stage): not submitted, the run is stopping")
            }
            let result: ClusterTool.Result
            do { result = try ClusterTool.run("sbatch", args, timeout: 120) } catch {
                submitLock.unlock()
                lastError = "\(error)"
                continue
            }
            // --parsable prints "id" or "id;cluster".
            let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
            if result.ok, !id.isEmpty, id.allSatisfy(\.isNumber) {
                stateLock.lock()
                inFlight.insert(id)
                stateLock.unlock()
                submitLock.unlock()
                return id
            }
            submitLock.unlock()
            lastError = result.complaint
            let transient = ["timed out", "try again", "temporarily unavailable", "Unable to contact"]
            if !transient.contains(where: { lastError.localizedCaseInsensitiveContains($0) }) { break }
        }
        throw PipelineError("stage \(launch.stage): sbatch refused the job: \(lastError)")
    }

    /// Blocks until the poller has seen `job` reach a final state.
    private func wait(for job: String, stage: String) -> SlurmJob.Status {
        watchLock.lock()
        watched[job] = Watch(submitted: Date())
        watchLock.signal()
        startPollerIfNeeded()
        while watched[job]?.status == nil { watchLock.wait() }
        let status = watched.removeValue(forKey: job)?.status
        watchLock.unlock()
        return status ?? SlurmJob.Status(state: "UNKNOWN", exit: nil, node: nil, start: nil, end: nil, reason: "lost track of the job")
    }

    private struct Watch {
        var submitted: Date
        var status: SlurmJob.Status?
    }
    /// Guards `watched`; waiting stage threads sleep on it until the poller fills in their status.
    private let watchLock = NSCondition()
    private var watched: [String: Watch] = [:]
    private var pollerRunning = false

    private func startPollerIfNeeded() {
        guard !pollerRunning else { return }
        pollerRunning = true
        Thread { [weak self] in self?.poll() }.start()
    }

    /// One thread asks about every job in flight with a single `squeue` per tick, so a sweep
    /// with many jobs costs the controller no more than one job. Ticks are short while some job
    /// is young (most stages of a small experiment last seconds) and stretch to `pollInterval`.
    private func poll() {
        var pause = 0.1
        var failingSince: Date?
        while true {
            watchLock.lock()
            while watched.values.allSatisfy({ $0.status != nil }) { watchLock.wait() }
            let open = watched.filter { $0.value.status == nil }
            watchLock.unlock()
            let young = open.values.contains { Date().timeIntervalSince($0.submitted) < 10 }
            pause = young ? 0.1 : min(pause * 1.5, settings.pollInterval)
            Thread.sleep(forTimeInterval: pause)

            let ids = open.keys.sorted()
            var states: [String: String] = [:]
            var answered = false
            if let r = try? ClusterTool.run("squeue", ["-h", "-t", "all", "-j", ids.joined(separator: ","), "-o", "%i|%T"], timeout: 60) {
                if r.ok {
                    answered = true
                    for line in r.stdout.split(separator: "\n") {
                        let f = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                        if f.count == 2 { states[f[0]] = f[1] }
                    }
                } else if r.complaint.localizedCaseInsensitiveContains("Invalid job id") {
                    answered = true   // all of them have left the controller
                }
            }
            var finished: [String: SlurmJob.Status] = [:]
            if answered {
                failingSince = nil
                for id in ids {
                    guard let st = states[id] else { finished[id] = forgotten(id); continue }
                    if SlurmJob.Status.final.contains(st) { finished[id] = details(id, state: st) }
                }
            } else {
                let since = failingSince ?? Date()
                failingSince = since
                if Date().timeIntervalSince(since) > 300 {
                    _ = try? ClusterTool.run("scancel", ids, timeout: 30)
                    for id in ids {
                        finished[id] = SlurmJob.Status(state: "UNKNOWN", exit: nil, node: nil, start: nil, end: nil,
                                                       reason: "squeue gave no answer for 5 minutes; the job was cancelled")
                    }
                }
            }
            guard !finished.isEmpty else { continue }
            watchLock.lock()
            for (id, status) in finished { watched[id]?.status = status }
            watchLock.broadcast()
            watchLock.unlock()
        }
    }

    /// The full record of a finished job: exit code, node and times from the controller.
    private func details(_ job: String, state: String) -> SlurmJob.Status {
        if let s = try? ClusterTool.run("scontrol", ["show", "job", "-o", job], timeout: 60), s.ok,
           let status = SlurmJob.parseScontrol(s.stdout), status.isFinal {
            return status
        }
        return forgotten(job, state: state)
    }

    /// A job the controller no longer lists (older than its MinJobAge): accounting may know it.
    private func forgotten(_ job: String, state: String? = nil) -> SlurmJob.Status {
        if let a = try? ClusterTool.run("sacct", ["-n", "-P", "-X", "-j", job, "-o", "State,ExitCode,NodeList,Start,End"], timeout: 60),
           a.ok, let status = SlurmJob.parseSacct(a.stdout), status.isFinal {
            return status
        }
        // COMPLETED means exit status 0 to SLURM, even when the details are gone.
        return SlurmJob.Status(state: state ?? "UNKNOWN", exit: state == "COMPLETED" ? .code(0) : nil, node: nil, start: nil,
                               end: nil, reason: "the job left the queue and sacct has no record of it")
    }

    public func cancelAll() {
        // Waits for a submission under way, so its job is either cancelled here or never made.
        let locked = submitLock.lock(before: Date().addingTimeInterval(15))
        stateLock.lock()
        stopped = true
        let jobs = inFlight.sorted()
        stateLock.unlock()
        if locked { submitLock.unlock() }
        guard !jobs.isEmpty else { return }
        _ = try? ClusterTool.run("scancel", jobs, timeout: 30)
    }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}
