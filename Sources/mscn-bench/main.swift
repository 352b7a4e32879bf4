import Foundation
import StageKit

// As in every stage (`Stage.run`): the benchmarks measure what the stages run.
MallocArenas.limit(environment: ProcessInfo.processInfo.environment)

// `make bench`: every benchmark registered in `Benchmarks.all`, or those named on the command line.
let wanted = Set(CommandLine.arguments.dropFirst())
for bench in Benchmarks.all where wanted.isEmpty || wanted.contains(bench.name) {
    if wanted.isEmpty && Benchmarks.onRequest.contains(bench.name) { continue }
    print("== \(bench.name)")
    bench.run()
}
