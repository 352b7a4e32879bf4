import Foundation

/// The text SLURM sees and says about one stage job: the batch script, the sbatch arguments,
/// and the parsing of `scontrol show job` / `sacct` answers. Pure functions, tested without SLURM.
public enum SlurmJob {
    /// Exit status the batch script uses when the node cannot see the runner's cache.
    static let unsharedCacheStatus: Int32 = 97
    static let unsharedCacheMarker = "does not see the runner's cache folder"

    /// Quotes one word for `/bin/sh`.
    static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The batch script: says which job and node ran the stage, checks that the node sees the
    /// same cache as the runner (its identity file and the staging folder), sets the pipeline's
    /// environment (sbatch's `--export=ALL` carries the runner's own), then execs the command.
    static func script(_ launch: StageLaunch, cacheRoot: String, cacheIdentity: String) -> String {
        let words = launch.arguments.enumerated().map { i, w in quote(i == 0 ? launch.executable : w) }
        let redirect = launch.stdoutPath.map { " > " + quote($0) } ?? ""
        let exports = launch.environment.sorted { $0.key < $1.key }.map { "export \($0.key)=\(quote($0.value))\n" }.joined()
        return """
            #!/bin/sh
            # Stage \(launch.stage) of an mscn run: written and submitted by the runner (`mscn run --executor slurm`).
            echo "mscn: stage \(launch.stage) runs as SLURM job ${SLURM_JOB_ID:-?} on $(hostname)"
            if [ "$(cat \(quote(cacheRoot + "/" + CacheStore.identityFile)) 2>/dev/null)" != \(quote(cacheIdentity)) ] || [ ! -d \(quote(launch.staging)) ]; then
              echo "mscn: node $(hostname) \(unsharedCacheMarker) \(cacheRoot): the cache, the data and the stage executables must be on a filesystem every node shares" >&2
              exit \(unsharedCacheStatus)
            fi
            \(exports)exec \(words.joined(separator: " "))\(redirect)

            """
    }

    /// sbatch's arguments for one stage: the stage's resources, then the run's cluster options.
    static func sbatchArguments(_ launch: StageLaunch, script: String, settings: SlurmSettings) -> [String] {
        var a = ["--parsable", "--job-name=mscn-\(launch.stage)", "--output=\(launch.logPath)",
                 "--chdir=\(launch.workingDirectory)", "--no-requeue", "--export=ALL", "--ntasks=1"]
        let r = launch.resources
        if let c = r.cpus { a.append("--cpus-per-task=\(c)") }
        if let m = r.mem { a.append("--mem=\(m)") }
        if let t = r.time ?? settings.time { a.append("--time=\(t)") }
        if let p = settings.partition { a.append("--partition=\(p)") }
        if let acc = settings.account { a.append("--account=\(acc)") }
        return a + settings.extra + [script]
    }

    /// What `scontrol show job -o` or `sacct` says about a job.
    struct Status: Equatable {
        var state: String
        var exit: ProcessExit?
        var node: String?
        var start: String?
        var end: String?
        var reason: String?

        /// States after which the job's processes are gone for good.
        static let final: Set<String> = [
            "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT",
        ]
        var isFinal: Bool { Status.final.contains(state) }
    }

    /// Parses one line of `scontrol show job -o ID` (key=value words).
    static func parseScontrol(_ text: String) -> Status? {
        func field(_ key: String) -> String? {
            guard let r = text.range(of: #"(^|\s)\#(key)=(\S*)"#, options: .regularExpression) else { return nil }
            let word = text[r].trimmingCharacters(in: .whitespaces)
            let value = String(word.dropFirst(key.count + 1))
            return value.isEmpty || value == "(null)" || value == "None" || value == "Unknown" ? nil : value
        }
        guard let state = field("JobState") else { return nil }
        return Status(state: state, exit: field("ExitCode").flatMap(parseExitCode), node: field("NodeList"),
                      start: field("StartTime"), end: field("EndTime"), reason: field("Reason"))
    }

    /// Parses `sacct -n -P -X -o State,ExitCode,NodeList,Start,End` (first line).
    static func parseSacct(_ text: String) -> Status? {
        guard let line = text.split(separator: "\n").first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else { return nil }
        let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard let first = f.first, let state = first.split(separator: " ").first.map(String.init), !state.isEmpty else { return nil }
        func at(_ i: Int) -> String? { i < f.count && !f[i].isEmpty && f[i] != "Unknown" && f[i] != "None assigned" ? f[i] : nil }
        return Status(state: state.uppercased(), exit: at(1).flatMap(parseExitCode), node: at(2), start: at(3), end: at(4), reason: nil)
    }

    /// `status:signal` as SLURM writes an exit code.
    static func parseExitCode(_ s: String) -> ProcessExit? {
        let parts = s.split(separator: ":")
        guard parts.count == 2, let code = Int32(parts[0]), let sig = Int32(parts[1]) else { return nil }
        return sig != 0 ? .signal(sig) : .code(code)
    }
}

/// Cluster options of a run, from the command line (stage resources come from the pipeline file).
public struct SlurmSettings: Sendable {
    public var partition: String?
    public var account: String?
    /// Time limit of stages whose pipeline file gives none.
    public var time: String?
    /// More sbatch arguments, split like a command (e.g. `--qos=short --constraint=avx2`).
    public var extra: [String]
    /// Longest pause between two looks at the jobs in flight (seconds); young jobs are looked at
    /// every 0.1 s. One `squeue` serves all jobs, so 2 s costs the controller little, and a long
    /// stage's end is noticed about a second late on average.
    public var pollInterval: Double

    public init(partition: String? = nil, account: String? = nil, time: String? = nil, extra: [String] = [],
                pollInterval: Double = 2) {
        self.partition = partition
        self.account = account
        self.time = time
        self.extra = extra
        self.pollInterval = pollInterval
    }
}

extension SlurmSettings {
    /// Splits `--slurm-extra` into sbatch arguments like a command line (quotes group, no expansion).
    public static func splitExtra(_ text: String) throws -> [String] {
        let words = try CommandWords.split(text)
        if let bad = words.first(where: { !$0.hasPrefix("-") }) {
            throw PipelineError("--slurm-extra takes sbatch options (each starting with -), got '\(bad)'")
        }
        return words
    }
}
