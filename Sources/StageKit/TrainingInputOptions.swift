import ArgumentParser

/// The artefacts mscn-train and mscn-purify both read (one `@OptionGroup`, so the two stages
/// cannot drift apart in names or help).
public struct TrainingInputOptions: ParsableArguments {
    @Option(help: "Training features (features-train.tzst).") public var features: String
    @Option(help: "Corpus (corpus.tzst).") public var corpus: String
    @Option(help: "Noisy caption→image map (noise.tzst).") public var noise: String
    @Option(help: "Meta split (meta.tzst).") public var meta: String
    @Option(name: .customLong("dev-features"), help: "Dev features, when the meta set comes from dev.")
    public var devFeatures: String?
    @Option(name: .customLong("meta-features"), help: "Meta-split features, for --rule given meta sets.")
    public var metaFeatures: String?

    public init() {}
}
