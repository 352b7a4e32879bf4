/// The similarity implementation models use unless told otherwise.
public enum SimilarityBackends {
    /// The fused kernel (module SimilarityKernels); `ReferenceSimilarity` stays available as the
    /// op-by-op cross-check.
    public static func standard(_ config: ModelConfig) -> SimilarityBackend { KernelSimilarity(config: config) }
}
