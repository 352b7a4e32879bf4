import ArgumentParser
import Foundation
import StageKit

/// `mscn-bench`: the speed and memory benchmarks (`make bench`, `make bench-compare`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-bench",
        abstract: "Run the speed and memory benchmarks (all by default, or those named).",
        discussion: """
        Benchmarks: \(Benchmarks.all.map(\.name).joined(separator: ", ")).
        Without names every benchmark runs except \(Benchmarks.onRequest.sorted().joined(separator: ", ")), \
        which run only when named: `compare` times our phases beside the official code's (`make \
        bench-compare REF_PY=...`; environment MSCN_REF_PY, MSCN_REF, MSCN_COMPARE, MSCN_COMPARE_STEPS, \
        MSCN_COMPARE_PHASES), `tanh` and `expf` check all 2³² floats (minutes each). Each benchmark \
        prints its own measurements; none is part of `make test`.
        """
    )

    @Argument(help: "Benchmarks to run (see the list above).") var names: [String] = []
    @Flag(help: "Print the benchmarks' names, one per line, and exit.") var list = false

    func validate() throws {
        let known = Set(Benchmarks.all.map(\.name))
        let unknown = names.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw ValidationError("no benchmark named \(unknown.map { "'\($0)'" }.joined(separator: ", ")); "
                                  + "known: \(Benchmarks.all.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if list {
            for bench in Benchmarks.all { print(bench.name) }
            return
        }
        // As in every stage (`Stage.run`): the benchmarks measure what the stages run.
        MallocArenas.limit(environment: ProcessInfo.processInfo.environment)
        // A child process that dies (the official code's Python in `compare`) must make our
        // write to its pipe fail with an error we report, not end this process silently.
        signal(SIGPIPE, SIG_IGN)
        let wanted = Set(names)
        for bench in Benchmarks.all where wanted.isEmpty ? !Benchmarks.onRequest.contains(bench.name) : wanted.contains(bench.name) {
            print("== \(bench.name)")
            // What a failing benchmark measured comes before its error, also into a pipe.
            defer { fflush(stdout) }
            try bench.run()
        }
    }
}

BenchCommand.main(NegativeValues.commandLine)
