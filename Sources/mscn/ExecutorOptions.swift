import ArgumentParser
import Foundation
import Pipeline

/// Where stages run, shared by `run` and `sweep`.
struct ExecutorOptions: ParsableArguments {
    enum Kind: String, ExpressibleByArgument, CaseIterable { case local, slurm }

    @Option(help: ArgumentHelp("Where stages run: local (child processes) or slurm (one sbatch job per stage; the cache folder must be on a filesystem every node shares).", valueName: "local|slurm"))
    var executor: Kind = .local

    @Option(name: .customLong("slurm-partition"), help: ArgumentHelp("sbatch --partition of every stage job.", valueName: "P"))
    var slurmPartition: String?

    @Option(name: .customLong("slurm-account"), help: ArgumentHelp("sbatch --account of every stage job.", valueName: "A"))
    var slurmAccount: String?

    @Option(name: .customLong("slurm-time"), help: ArgumentHelp("Time limit of stage jobs whose pipeline file gives none (resources: time).", valueName: "4:00:00"))
    var slurmTime: String?

    @Option(name: .customLong("slurm-extra"), help: ArgumentHelp("More sbatch options for every stage job, e.g. \"--qos=short --constraint=avx2\".", valueName: "options"))
    var slurmExtra: String?

    @Option(help: ArgumentHelp("Resubmit a stage whose job the cluster lost (NODE_FAIL, PREEMPTED, BOOT_FAIL) up to N times; a failing command is never retried.", valueName: "N"))
    var retries: Int = 0

    func validate() throws {
        if retries < 0 { throw ValidationError("--retries must be at least 0") }
        if executor == .local {
            let given = [("--slurm-partition", slurmPartition), ("--slurm-account", slurmAccount),
                         ("--slurm-time", slurmTime), ("--slurm-extra", slurmExtra)].filter { $0.1 != nil }.map(\.0)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "needs" : "need") --executor slurm") }
        }
        if let t = slurmTime {
            do { try StageResources.check("time", t) } catch { throw ValidationError("--slurm-time: \(error)") }
        }
        if let e = slurmExtra {
            do { _ = try SlurmSettings.splitExtra(e) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The executor for a run on `store`; a termination signal cancels its work.
    func makeExecutor(store: CacheStore) throws -> StageExecutor {
        let e: StageExecutor
        switch executor {
        case .local: e = LocalExecutor()
        case .slurm:
            let settings = SlurmSettings(partition: slurmPartition, account: slurmAccount, time: slurmTime,
                                         extra: try slurmExtra.map(SlurmSettings.splitExtra) ?? [])
            e = try SlurmExecutor(settings: settings, store: store)
        }
        StageSignals.watch(e)
        return e
    }
}
