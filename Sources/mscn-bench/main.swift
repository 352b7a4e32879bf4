import Foundation

// `make bench`: every benchmark registered in `Benchmarks.all`, or those named on the command line.
let wanted = Set(CommandLine.arguments.dropFirst())
for bench in Benchmarks.all where wanted.isEmpty || wanted.contains(bench.name) {
    print("== \(bench.name)")
    bench.run()
}
