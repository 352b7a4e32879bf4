/// The similarity implementation models use unless told otherwise.
public enum SimilarityBackends {
    /// The op-by-op reference until the fused kernel (module SimilarityKernels) is merged; then
    /// this returns `KernelSimilarity(config:)` (see `Integration/KernelSimilarity.swift`).
    public static func standard(_ config: ModelConfig) -> SimilarityBackend { ReferenceSimilarity() }
}
