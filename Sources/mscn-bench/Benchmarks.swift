/// A named benchmark that prints its own measurements.
struct Benchmark {
    var name: String
    var run: () -> Void
}

enum Benchmarks {
    /// Run only when named (`make bench-compare`): they take minutes and need the official code.
    static let onRequest: Set<String> = ["compare"]

    /// Each concern adds its benchmarks in its own file and lists them here.
    static var all: [Benchmark] {
        [RunnerBench.noOpRerun] + RetrievalBenchmarks.all + [FeaturesBench.benchmark] + EngineBench.all
            + TensorFileBench.benchmarks + SimilarityBench.all + BuiltinBench.all
            + CompareBench.all + MetaStepBench.all
    }
}
