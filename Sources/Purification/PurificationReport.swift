/// What one purification did, for logs and `report.json`: the EM trace, the kept fraction, and
/// (when the clean labels are known, i.e. synthetic noise) how good the kept set is.
///
/// JSON keys: `initial`, `iterations`, `final`, `captions`, `kept`, `kept_fraction`, and when
/// labels were given `clean_captions`, `precision`, `recall`, `accuracy` (fractions in [0, 1];
/// precision is absent when nothing was kept), `meta_clean_std` / `meta_noisy_std` (the spread of
/// the meta scores the Betas start from), `em_stopped` when EM stopped on a degenerate step, and
/// `collapsed` when the net scores every pair alike.
public struct PurificationReport: Codable, Equatable, Sendable {
    public var initial: BetaMixture
    public var iterations: [EMIteration]
    public var final: BetaMixture
    public var captions: Int
    public var kept: Int
    public var keptFraction: Double
    public var cleanCaptions: Int?
    /// Kept captions that are clean / kept captions.
    public var precision: Double?
    /// Kept captions that are clean / clean captions.
    public var recall: Double?
    /// Captions whose keep decision equals their clean label / all captions.
    public var accuracy: Double?
    /// Set when EM stopped early on a degenerate step (see `PurificationFit.stopped`).
    public var emStopped: String?
    public var metaCleanStd: Double?
    public var metaNoisyStd: Double?
    /// Set when the scoring net has collapsed (see `PurificationFit.collapsed`).
    public var collapsed: String?

    enum CodingKeys: String, CodingKey {
        case initial, iterations, final, captions, kept
        case keptFraction = "kept_fraction"
        case cleanCaptions = "clean_captions"
        case precision, recall, accuracy
        case emStopped = "em_stopped"
        case metaCleanStd = "meta_clean_std"
        case metaNoisyStd = "meta_noisy_std"
        case collapsed
    }

    /// Summarises `fit`; `cleanLabels` (1 = clean, one per training caption) adds the quality figures.
    public init(fit: PurificationFit, cleanLabels: [UInt8]? = nil) throws {
        initial = fit.initial
        iterations = fit.iterations
        final = fit.final
        captions = fit.keep.count
        kept = fit.keep.lazy.filter { $0 }.count
        keptFraction = fit.keptFraction
        emStopped = fit.stopped
        metaCleanStd = fit.metaSpread.clean
        metaNoisyStd = fit.metaSpread.noisy
        collapsed = fit.collapsed
        guard let labels = cleanLabels else { return }
        guard labels.count == fit.keep.count else {
            throw PurificationError("\(labels.count) clean labels for \(fit.keep.count) scored captions")
        }
        var clean = 0, keptClean = 0, agree = 0
        for (k, l) in zip(fit.keep, labels) {
            let isClean = l != 0
            if isClean { clean += 1 }
            if k && isClean { keptClean += 1 }
            if k == isClean { agree += 1 }
        }
        cleanCaptions = clean
        precision = kept > 0 ? Double(keptClean) / Double(kept) : nil
        recall = clean > 0 ? Double(keptClean) / Double(clean) : nil
        accuracy = captions > 0 ? Double(agree) / Double(captions) : nil
    }
}
