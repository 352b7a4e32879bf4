import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a stage process ended.
public enum ProcessExit: Equatable, Sendable {
    case code(Int32)
    case signal(Int32)

    public var succeeded: Bool { self == .code(0) }
    public var description: String {
        switch self {
        case .code(let c): return "exit status \(c)"
        case .signal(let s): return "killed by signal \(s)"
        }
    }
}

/// Runs one command without a shell: stdin from /dev/null, stdout and stderr into the log.
/// With `echo`, stdout is also captured to `stdoutPath` and handed to `echo` as it arrives.
enum StageProcess {
    private static let spawnLock = NSLock()
    /// Linux's SCHED_IDLE, which Glibc's Swift module does not export.
    static let schedIdle: Int32 = 5
    private static let runningLock = NSLock()
    nonisolated(unsafe) private static var running: Set<pid_t> = []

    /// Sends `signal` to every stage process still running (the runner forwards SIGTERM/SIGHUP,
    /// which reach only the runner, so no stage outlives it).
    static func signalAll(_ signal: Int32) {
        runningLock.lock()
        let pids = running
        runningLock.unlock()
        for pid in pids { kill(pid, signal) }
    }

    /// `environment` is set over the runner's own environment for the child. With `lowestPriority`
    /// the child runs under SCHED_IDLE (`StageSpec.background`).
    static func run(executable: String, argv: [String], logPath: String, stdoutPath: String?,
                    echo: ((Data) -> Void)?, environment: [String: String] = [:],
                    lowestPriority: Bool = false) throws -> ProcessExit {
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw PipelineError("\(logPath): cannot create log") }
        defer { close(logFD) }
        // pipe2 is hidden from Swift; holding this lock from pipe() to spawn keeps another
        // thread's child from inheriting a write end before it is marked close-on-exec.
        spawnLock.lock()
        var locked = true
        defer { if locked { spawnLock.unlock() } }
        var pipeFDs: [Int32] = [-1, -1]
        var outFD: Int32 = -1
        if let stdoutPath {
            outFD = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard outFD >= 0, pipe(&pipeFDs) == 0 else {
                if outFD >= 0 { close(outFD) }
                throw PipelineError("\(stdoutPath): cannot capture stdout")
            }
        }
        defer { if outFD >= 0 { close(outFD) } }
        if stdoutPath != nil {
            _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPath == nil ? logFD : pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)

        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var cenv: [UnsafeMutablePointer<CChar>?] = environment.isEmpty ? [] :
            StageEnvironment(values: environment).applied(to: ProcessInfo.processInfo.environment).map { strdup($0) }
        cenv.append(nil)
        defer { for p in cenv { free(p) } }
        // The runner ignores SIGTERM/SIGHUP (it forwards them) and spawns from worker threads whose
        // signals are blocked; stages start with default dispositions and an empty mask, so a
        // forwarded SIGTERM or a terminal's Ctrl-C reaches them.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGHUP)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attr, &emptyMask)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        // SCHED_IDLE rather than nice 19: a waking thread of another process preempts a SCHED_IDLE
        // task at once, and the kernel counts a core that runs only SCHED_IDLE tasks as idle when
        // it places one. A purification beside a dev evaluation at nice 19 took 13 s, under
        // SCHED_IDLE 7.3 s, as at normal priority (README, "Side branches in the background": the
        // rest of that cost was OpenBLAS's own waits). posix_spawn only sets the standard
        // policies, and a child's threads (OpenBLAS starts its own while the program loads) take
        // theirs from the thread that creates them; so the child is spawned by a thread that is
        // already SCHED_IDLE. The policy belongs to a thread on Linux: only this one, the stage's
        // own runner thread, changes, and it takes its policy back after the spawn.
        var ownSchedule = sched_param(sched_priority: 0), idleSchedule = sched_param(sched_priority: 0)
        let restorePolicy = lowestPriority ? sched_getscheduler(0) : -1
        if restorePolicy >= 0 {
            _ = sched_getparam(0, &ownSchedule)
            _ = sched_setscheduler(0, StageProcess.schedIdle, &idleSchedule)
        }
        var pid = pid_t()
        let rc = environment.isEmpty ? posix_spawn(&pid, executable, &actions, &attr, cargs, environ)
                                     : posix_spawn(&pid, executable, &actions, &attr, cargs, cenv)
        if restorePolicy >= 0 { _ = sched_setscheduler(0, restorePolicy, &ownSchedule) }
        if stdoutPath != nil { close(pipeFDs[1]) }
        if rc == 0 {
            runningLock.lock()
            running.insert(pid)
            runningLock.unlock()
        }
        spawnLock.unlock()
        locked = false
        guard rc == 0 else {
            if stdoutPath != nil { close(pipeFDs[0]) }
            throw PipelineError("\(executable): cannot start (\(String(cString: strerror(rc))))")
        }

        var reader: Thread?
        let done = DispatchSemaphore(value: 0)
        if stdoutPath != nil {
            let readFD = pipeFDs[0], copyFD = outFD
            reader = Thread {
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buf.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    buf.withUnsafeBytes { b in
                        _ = Glibc.write(copyFD, b.baseAddress, n)
                        _ = Glibc.write(logFD, b.baseAddress, n)
                    }
                    echo?(Data(buf[0..<n]))
                }
                close(readFD)
                done.signal()
            }
            reader?.start()
        }

        var status: Int32 = 0
        defer {
            runningLock.lock()
            running.remove(pid)
            runningLock.unlock()
        }
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw PipelineError("\(executable): lost track of the process") }
        }
        if reader != nil { done.wait() }
        let sig = status & 0x7f
        return sig == 0 ? .code((status >> 8) & 0xff) : .signal(sig)
    }
}

/// Termination requests that reach only the runner (SIGTERM from `kill`, SIGHUP when the terminal
/// closes; with cluster jobs also Ctrl-C's SIGINT, which reaches no node) are passed on before the
/// runner exits: local stages get SIGTERM, cluster jobs are cancelled, so no stage keeps computing
/// unobserved; their staging folders are swept by the next run.
public enum StageSignals {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let lock = NSLock()
    nonisolated(unsafe) private static var stopping = false
    nonisolated(unsafe) private static var executors: [StageExecutor] = []

    /// True once a termination signal arrived: the run's own failure report must not race the
    /// signal's exit status, so callers park until the handler exits.
    public static var isTerminating: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Never returns: lets the signal handler finish and exit with the signal's status.
    public static func parkUntilExit() -> Never {
        while true { sleep(60) }
    }

    /// Adds an executor whose work a termination signal cancels.
    public static func watch(_ executor: StageExecutor) {
        lock.lock()
        executors.append(executor)
        lock.unlock()
    }

    /// `interrupt`: handle SIGINT too (stages are cluster jobs, which a terminal's Ctrl-C
    /// does not reach); otherwise SIGINT keeps its default and reaches local stages directly.
    public static func forwardTermination(interrupt: Bool = false) {
        for sig in [SIGTERM, SIGHUP] + (interrupt ? [SIGINT] : []) {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                lock.lock()
                let first = !stopping
                stopping = true
                let all = executors
                lock.unlock()
                guard first else { return }
                StageProcess.signalAll(SIGTERM)
                for e in all where !(e is LocalExecutor) { e.cancelAll() }
                let what = all.contains { !($0 is LocalExecutor) } ? "its cluster jobs were cancelled" : "running stages were terminated"
                FileHandle.standardError.write(Data("mscn: stopped by signal \(sig); \(what)\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}
