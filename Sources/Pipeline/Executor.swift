import Foundation

/// Everything an executor needs to start one stage: the command, its staging folder, its log
/// and its resources. The runner has already planned, keyed and locked the stage, and publishes
/// its outputs after a successful end; an executor only runs the command and says how it ended.
public struct StageLaunch {
    public var stage: String
    /// Absolute path of the executable.
    public var executable: String
    /// The full argument vector, `argv[0]` first.
    public var arguments: [String]
    /// Absolute path of the (shared) staging folder the command writes its outputs into.
    public var staging: String
    /// stdout and stderr of the command end up here.
    public var logPath: String
    /// For `stdout: echo` stages: stdout is also captured here and handed to `echo`.
    public var stdoutPath: String?
    public var echo: ((Data) -> Void)?
    public var resources: StageResources
    /// The runner's working folder: relative paths in the command mean the same on a node.
    public var workingDirectory: String
    /// Variables set for the command over the runner's environment (the pipeline's `environment:`).
    public var environment: [String: String] = [:]
    /// Run under SCHED_IDLE (`StageSpec.background`); only the local executor reads it.
    public var background = false
    /// Called once the stage has an identity outside this process (a cluster job id).
    public var started: (String) -> Void = { _ in }
}

/// How a stage ended: the command's exit status or signal, and on a cluster the job's state.
public struct StageEnd: Equatable, Sendable {
    /// Exit status or signal of the command, when known.
    public var exit: ProcessExit?
    /// The cluster's final state of the job (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, …).
    public var state: String?
    /// The cluster job id.
    public var job: String?
    /// Why, when the executor knows more than the state (e.g. the node cannot see the cache).
    public var detail: String?

    public init(exit: ProcessExit?, state: String? = nil, job: String? = nil, detail: String? = nil) {
        self.exit = exit
        self.state = state
        self.job = job
        self.detail = detail
    }

    public var succeeded: Bool { exit == .code(0) && (state == nil || state == "COMPLETED") }

    /// The job died for a reason of the cluster's, not of the command: worth resubmitting.
    public var clusterFault: Bool { ["NODE_FAIL", "PREEMPTED", "BOOT_FAIL"].contains(state ?? "") }

    public var description: String {
        var parts: [String] = []
        if let job { parts.append("SLURM job \(job)" + (state.map { ": \($0)" } ?? "")) } else if let state { parts.append(state) }
        if let exit, state == nil || state == "FAILED" || state == "COMPLETED" { parts.append(exit.description) }
        if let detail { parts.append(detail) }
        return parts.isEmpty ? "ended in an unknown way" : parts.joined(separator: ", ")
    }
}

/// Where stages run. One instance serves every stage of a run (and of a concurrent sweep), from
/// several threads at once.
public protocol StageExecutor: AnyObject, Sendable {
    /// `local` or `slurm`, for messages.
    var name: String { get }
    /// Runs the stage to its end; throws only when it could not be started at all.
    func run(_ launch: StageLaunch) throws -> StageEnd
    /// Stops everything still running (the runner is being terminated). Must not block for long.
    func cancelAll()
}

/// Child processes on this machine (the default).
public final class LocalExecutor: StageExecutor, @unchecked Sendable {
    public let name = "local"
    public init() {}

    public func run(_ launch: StageLaunch) throws -> StageEnd {
        let exit = try StageProcess.run(executable: launch.executable, argv: launch.arguments, logPath: launch.logPath,
                                        stdoutPath: launch.stdoutPath, echo: launch.echo, environment: launch.environment,
                                        lowestPriority: launch.background)
        return StageEnd(exit: exit)
    }

    public func cancelAll() { StageProcess.signalAll(SIGTERM) }
}
