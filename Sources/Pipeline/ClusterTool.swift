import Foundation
import TensorFile

/// Runs a cluster command-line tool (sbatch, scontrol, sacct, scancel) and collects its output.
/// Output goes through temporary files, not pipes, so a chatty tool can never block on a full pipe.
enum ClusterTool {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var ok: Bool { status == 0 }
        /// The tool's complaint on one line, for messages.
        var complaint: String {
            let text = (stderr.isEmpty ? stdout : stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "exit status \(status)" : text.replacingOccurrences(of: "\n", with: " / ")
        }
    }

    /// Runs `tool` (looked up on PATH) with `arguments`; gives up after `timeout` seconds.
    static func run(_ tool: String, _ arguments: [String], timeout: Double = 60) throws -> Result {
        guard let path = which(tool) else {
            throw PipelineError("\(tool) not found on PATH: the slurm executor needs SLURM's command-line tools")
        }
        let dir = NSTemporaryDirectory() + "mscn-tool-\(getpid())-\(UUID().uuidString.prefix(8))"
        guard mkdir(dir, 0o700) == 0 else { throw PipelineError("\(dir): cannot create a temporary folder") }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outPath = dir + "/out", errPath = dir + "/err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath) else {
            throw PipelineError("\(dir): cannot capture the output of \(tool)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        p.standardError = err
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        do { try p.run() } catch {
            throw PipelineError("\(path): cannot start (\(IOErrorText.reason(error)))")
        }
        try? out.close()
        try? err.close()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            done.wait()
            throw PipelineError("\(tool) \(arguments.joined(separator: " ")): no answer within \(Int(timeout)) s")
        }
        let text = { (f: String) in String(decoding: FileManager.default.contents(atPath: f) ?? Data(), as: UTF8.self) }
        return Result(status: p.terminationStatus, stdout: text(outPath), stderr: text(errPath))
    }

    static func which(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
