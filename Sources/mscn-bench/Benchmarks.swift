/// A named benchmark that prints its own measurements.
struct Benchmark {
    var name: String
    /// Prints its measurements; throws when it could not measure what it was asked to.
    var run: () throws -> Void
}

enum Benchmarks {
    /// Run only when named: `compare` (`make bench-compare`) needs the official code, `tanh` and
    /// `expf` take minutes.
    static let onRequest: Set<String> = ["compare", "tanh", "expf"]

    /// Each concern adds its benchmarks in its own file and lists them here.
    static var all: [Benchmark] {
        [RunnerBench.noOpRerun] + RetrievalBenchmarks.all + [FeaturesBench.benchmark] + EngineBench.all
            + TensorFileBench.benchmarks + SimilarityBench.all + BuiltinBench.all
            + CompareBench.all + MetaStepBench.all + LibmBench.all
    }
}
