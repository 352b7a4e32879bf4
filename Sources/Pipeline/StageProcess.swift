import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a stage process ended.
enum ProcessExit: Equatable {
    case code(Int32)
    case signal(Int32)

    var succeeded: Bool { self == .code(0) }
    var description: String {
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

    static func run(executable: String, argv: [String], logPath: String, stdoutPath: String?,
                    echo: ((Data) -> Void)?) throws -> ProcessExit {
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
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, cargs, environ)
        if stdoutPath != nil { close(pipeFDs[1]) }
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
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw PipelineError("\(executable): lost track of the process") }
        }
        if reader != nil { done.wait() }
        let sig = status & 0x7f
        return sig == 0 ? .code((status >> 8) & 0xff) : .signal(sig)
    }
}
