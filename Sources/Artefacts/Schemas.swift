import TensorFile

/// Names of the tensors inside each artefact, shared by the stages that write and read them.
///
/// | file (runner output) | writer | tensors |
/// |---|---|---|
/// | `corpus.tzst` | ingest | see `Corpus` |
/// | `vocab.json` | ingest | `{"word2idx", "idx2word", "idx"}` (the precomp format) |
/// | `images-<split>.tzst` | ingest | `pixels` u8 `[N,H,W,3]` (images layout) or `features` f32 `[N,R,D]` (precomp) |
/// | `features-<split>.tzst` | features | `features` f32 `[N,R,D]` |
/// | `noise.tzst` | noise | `t2i` i64 `[M]` (noisy caption→image), `clean` u8 `[M]` |
/// | `meta.tzst` | split | see `MetaSplit` |
/// | `ckpt.tzst` | train | weights by reference name (`net/...`, `meta/...`), optimiser state, RNG |
/// | `mask.tzst` | purify | `p_clean` f32 `[M]`, `keep` u8 `[M]`, `score` f32 `[M]` |
public enum Schema {
    public static let pixels = "pixels"
    public static let features = "features"
    public static let noisyImage = "t2i"
    public static let cleanLabel = "clean"
    public static let pClean = "p_clean"
    public static let keep = "keep"
    /// Clamped eval-mode score of each training caption with its noisy image (`mask.tzst`).
    public static let score = "score"

    /// `values`, the flag tensor `name` of `path`, when every entry is 0 or 1: another value is a
    /// damaged or foreign file, which read as "nonzero = set" would pass unnoticed.
    public static func flags(_ values: [UInt8], _ name: String, path: String) throws -> [UInt8] {
        if let i = values.firstIndex(where: { $0 > 1 }) {
            throw TensorFileError(path, "\(name)[\(i)] is \(values[i]), a flag is 0 or 1")
        }
        return values
    }

    /// Fails, naming the file, when a feature file records (`split` metadata, written by
    /// `mscn-ingest` and carried by `mscn-features`) another split than the one a stage reads:
    /// the built-in dev and test splits have the same size, so nothing else would tell them apart.
    /// Files without the key (other tools) are not checked.
    public static func requireFeatureSplit(recorded: String?, expected: String, path: String) throws {
        if let recorded, !recorded.isEmpty, recorded != expected {
            throw TensorFileError(path, "holds the \(recorded) split's features, where the \(expected) split's are expected")
        }
    }
}

/// The noisy caption→image map (`noise.tzst`) and its clean labels.
public struct NoisyMap: Sendable, Equatable {
    public var imageOfCaption: [Int64]
    public var clean: [UInt8]
    public init(imageOfCaption: [Int64], clean: [UInt8]) {
        self.imageOfCaption = imageOfCaption
        self.clean = clean
    }

    public static func load(_ path: String) throws -> NoisyMap {
        let r = try TensorFileReader(path: path)
        let map = NoisyMap(imageOfCaption: try r.read(Schema.noisyImage).int64s(),
                           clean: try Schema.flags(r.read(Schema.cleanLabel).uint8s(), Schema.cleanLabel, path: path))
        guard map.imageOfCaption.count == map.clean.count else {
            throw TensorFileError(path, "t2i has \(map.imageOfCaption.count) entries, clean has \(map.clean.count)")
        }
        return map
    }

    /// Writes `t2i` i64 `[M]` and `clean` u8 `[M]` with `metadata` (atomically).
    public func save(_ path: String, metadata: [String: String] = [:]) throws {
        try TensorFiles.write(path, [
            StoredTensor(name: Schema.noisyImage, shape: [imageOfCaption.count], int64s: imageOfCaption),
            StoredTensor(name: Schema.cleanLabel, shape: [clean.count], uint8s: clean),
        ], metadata: metadata)
    }
}

/// The meta (small clean) set chosen by `mscn-split` (`meta.tzst`).
///
/// Tensors: `meta_split` u8 `[P]` (0 = train, 1 = dev: where the pair's caption and image come
/// from), `meta_caption` i64 `[P]`, `meta_image` i64 `[P]` (indices inside that split),
/// `train_keep` u8 `[M_train]` (1 = caption stays in the training set),
/// `dev_select` u8 `[N_dev]` (1 = dev image used to choose the best round).
public struct MetaSplit: Sendable, Equatable {
    public var source: [UInt8]
    public var caption: [Int64]
    public var image: [Int64]
    public var trainKeep: [UInt8]
    public var devSelect: [UInt8]

    public init(source: [UInt8], caption: [Int64], image: [Int64], trainKeep: [UInt8], devSelect: [UInt8]) {
        self.source = source
        self.caption = caption
        self.image = image
        self.trainKeep = trainKeep
        self.devSelect = devSelect
    }

    public static func load(_ path: String) throws -> MetaSplit {
        let r = try TensorFileReader(path: path)
        let m = MetaSplit(source: try r.read("meta_split").uint8s(),
                          caption: try r.read("meta_caption").int64s(),
                          image: try r.read("meta_image").int64s(),
                          trainKeep: try Schema.flags(r.read("train_keep").uint8s(), "train_keep", path: path),
                          devSelect: try Schema.flags(r.read("dev_select").uint8s(), "dev_select", path: path))
        guard m.source.count == m.caption.count, m.caption.count == m.image.count else {
            throw TensorFileError(path, "meta_split, meta_caption and meta_image differ in length")
        }
        return m
    }

    public func save(_ path: String, metadata: [String: String] = [:]) throws {
        try TensorFiles.write(path, [
            StoredTensor(name: "meta_split", shape: [source.count], uint8s: source),
            StoredTensor(name: "meta_caption", shape: [caption.count], int64s: caption),
            StoredTensor(name: "meta_image", shape: [image.count], int64s: image),
            StoredTensor(name: "train_keep", shape: [trainKeep.count], uint8s: trainKeep),
            StoredTensor(name: "dev_select", shape: [devSelect.count], uint8s: devSelect),
        ], metadata: metadata)
    }
}
