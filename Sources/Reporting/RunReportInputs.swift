/// The files a run report reads; every field may be left empty, and the report then says which
/// section has nothing to show. A file that is named but unreadable is an error.
public struct RunReportInputs: Sendable {
    public var title = "MSCN run report"
    /// `params.json` of the run (runner format or flat).
    public var params: String?
    /// Parameters given directly (`--param key=value`), shown when there is no params file
    /// (a pipeline stage runs before the runner writes `params.json`).
    public var paramValues: [String: String] = [:]
    /// Dev `metrics.json` of each round, round 1 first.
    public var devMetrics: [String] = []
    /// `best.json` from `mscn select-best`.
    public var best: String?
    /// Test `metrics.json` of the best round.
    public var testMetrics: String?
    /// Purification `report.json` of net A / B, one per round (their `round` field orders them).
    public var purifyA: [String] = []
    public var purifyB: [String] = []
    /// `mask.tzst` matching `purifyA` / `purifyB` one to one.
    public var masksA: [String] = []
    public var masksB: [String] = []
    /// `noise.tzst` (clean labels) and optionally `meta.tzst` (to drop meta captions from them).
    public var noise: String?
    public var meta: String?
    /// `regime.json` of each warm-up (clean-vs-noisy AUC of the warm-up net's scores).
    public var regime: [String] = []
    /// `log.tsv` of each training stage of net A / B (warm-up first, then rounds).
    public var trainLogsA: [String] = []
    public var trainLogsB: [String] = []
    /// Retrieval examples: test score matrix `[N_images, M_captions]`, corpus, test images, vocab.
    public var examplesScores: String?
    public var examplesCorpus: String?
    public var examplesImages: String?
    public var vocab: String?
    public var exampleCount = 4

    public init() {}
}
