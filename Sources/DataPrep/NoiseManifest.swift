import Artefacts

/// Provenance of a noisy map, stored as the metadata of `noise.tzst` and optionally as JSON.
///
/// Inputs are named by content digest, not path, so the same inputs give byte-identical files
/// wherever they live (the runner's cache moves them around).
public struct NoiseManifest: Codable, Equatable, Sendable {
    /// `caption`, `image`, or `import`.
    public var protocolName: String
    /// Requested ratio (absent for an imported index).
    public var ratio: Double?
    /// Seed (absent for an imported index).
    public var seed: UInt64?
    public var realisedNoiseRate: Double
    public var noisyCaptions: Int
    public var captions: Int
    public var images: Int
    public var captionsPerImage: Int
    public var split: String
    public var inputDigest: String
    public var importDigest: String?

    enum CodingKeys: String, CodingKey {
        case protocolName = "protocol", ratio, seed
        case realisedNoiseRate = "realised_noise_rate", noisyCaptions = "noisy_captions"
        case captions, images
        case captionsPerImage = "captions_per_image"
        case split
        case inputDigest = "input_digest", importDigest = "import_digest"
    }

    public init(protocolName: String, ratio: Double?, seed: UInt64?, map: NoisyMap, images: Int, captionsPerImage: Int,
                split: String, inputDigest: String, importDigest: String? = nil) {
        self.protocolName = protocolName
        self.ratio = ratio
        self.seed = seed
        realisedNoiseRate = NoiseInjection.realisedNoiseRate(map)
        noisyCaptions = map.clean.lazy.filter { $0 == 0 }.count
        captions = map.clean.count
        self.images = images
        self.captionsPerImage = captionsPerImage
        self.split = split
        self.inputDigest = inputDigest
        self.importDigest = importDigest
    }

    /// The same fields as tensor-file metadata (strings, JSON key names, absent fields left out).
    public var metadata: [String: String] {
        var m: [String: String] = [
            "stage": "mscn-noise",
            "protocol": protocolName,
            "realised_noise_rate": "\(realisedNoiseRate)",
            "noisy_captions": "\(noisyCaptions)",
            "captions": "\(captions)",
            "images": "\(images)",
            "captions_per_image": "\(captionsPerImage)",
            "split": split,
            "input_digest": inputDigest,
        ]
        if let ratio { m["ratio"] = "\(ratio)" }
        if let seed { m["seed"] = "\(seed)" }
        if let importDigest { m["import_digest"] = importDigest }
        return m
    }
}
