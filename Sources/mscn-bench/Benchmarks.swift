/// A named benchmark that prints its own measurements.
struct Benchmark {
    var name: String
    var run: () -> Void
}

enum Benchmarks {
    /// Each concern adds its benchmarks in its own file and lists them here.
    static var all: [Benchmark] {
        [RunnerBench.noOpRerun] + RetrievalBenchmarks.all + [FeaturesBench.benchmark] + EngineBench.all
            + TensorFileBench.benchmarks + SimilarityBench.all + MetaStepBench.all
    }
}
