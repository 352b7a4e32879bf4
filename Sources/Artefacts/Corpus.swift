import TensorFile

/// Captions of one split as token ids: `tokens[offsets[j] ..< offsets[j+1]]` is caption `j`,
/// starting with `<start>` (1) and ending with `<end>` (2). Caption `j` belongs to image `j / K`.
public struct CaptionSet: Sendable, Equatable {
    public var tokens: [Int32]
    public var offsets: [Int64]
    public var captionsPerImage: Int

    public init(tokens: [Int32], offsets: [Int64], captionsPerImage: Int) {
        self.tokens = tokens
        self.offsets = offsets
        self.captionsPerImage = captionsPerImage
    }

    public var captionCount: Int { offsets.count - 1 }
    public var imageCount: Int { captionsPerImage > 0 ? captionCount / captionsPerImage : 0 }

    public func caption(_ j: Int) -> ArraySlice<Int32> {
        tokens[Int(offsets[j])..<Int(offsets[j + 1])]
    }

    public func length(_ j: Int) -> Int { Int(offsets[j + 1] - offsets[j]) }

    /// Checks the offsets against the tokens and K; `path` names the file in errors.
    public func validate(path: String, split: String) throws {
        guard captionsPerImage > 0 else { throw TensorFileError(path, "\(split): captions per image must be positive") }
        guard let first = offsets.first, first == 0, offsets.last == Int64(tokens.count) else {
            throw TensorFileError(path, "\(split): caption offsets do not cover the tokens")
        }
        for j in 0..<captionCount where offsets[j + 1] <= offsets[j] {
            throw TensorFileError(path, "\(split): caption \(j) is empty")
        }
        guard captionCount % captionsPerImage == 0 else {
            throw TensorFileError(path, "\(split): \(captionCount) captions is not a multiple of K=\(captionsPerImage)")
        }
    }
}

/// The corpus artefact written by `mscn-ingest` (`corpus.tzst`): every split's captions.
///
/// Tensors: `<split>/tokens` i32 `[T]`, `<split>/offsets` i64 `[M+1]`.
/// Metadata: `splits` (comma-separated), `captions_per_image` (the training split's K),
/// `captions_per_image.<split>` for a split whose K differs (the official meta set is
/// caption–image pairs, K = 1, beside K = 5 train/dev/test), `vocab_size`.
public struct Corpus: Sendable, Equatable {
    public var splits: [String: CaptionSet]
    public var vocabularySize: Int

    public init(splits: [String: CaptionSet], vocabularySize: Int) {
        self.splits = splits
        self.vocabularySize = vocabularySize
    }

    public func split(_ name: String, path: String = "corpus") throws -> CaptionSet {
        guard let s = splits[name] else { throw TensorFileError(path, "corpus has no split '\(name)'") }
        return s
    }

    public static func load(_ path: String) throws -> Corpus {
        let reader = try TensorFileReader(path: path)
        guard let names = reader.metadata["splits"], let k = Int(reader.metadata["captions_per_image"] ?? ""),
              let v = Int(reader.metadata["vocab_size"] ?? "") else {
            throw TensorFileError(path, "not a corpus file (metadata splits/captions_per_image/vocab_size missing)")
        }
        var splits: [String: CaptionSet] = [:]
        for name in names.split(separator: ",").map(String.init) {
            // Files written before per-split K carry one K for all splits.
            var splitK = k
            if let own = reader.metadata["captions_per_image.\(name)"] {
                guard let value = Int(own) else {
                    throw TensorFileError(path, "\(name): captions_per_image.\(name) '\(own)' is not an integer")
                }
                splitK = value
            }
            let set = CaptionSet(tokens: try reader.read("\(name)/tokens").int32s(),
                                 offsets: try reader.read("\(name)/offsets").int64s(),
                                 captionsPerImage: splitK)
            try set.validate(path: path, split: name)
            if let bad = set.tokens.first(where: { $0 < 0 || Int($0) >= v }) {
                throw TensorFileError(path, "\(name): token id \(bad) outside the vocabulary of \(v)")
            }
            splits[name] = set
        }
        return Corpus(splits: splits, vocabularySize: v)
    }

    public func save(_ path: String, metadata extra: [String: String] = [:]) throws {
        let names = splits.keys.sorted()
        var meta = extra
        meta["splits"] = names.joined(separator: ",")
        let k = (splits["train"] ?? names.first.flatMap { splits[$0] })?.captionsPerImage ?? 0
        meta["captions_per_image"] = String(k)
        meta["vocab_size"] = String(vocabularySize)
        var tensors: [StoredTensor] = []
        for n in names {
            guard let s = splits[n] else { continue }
            if s.captionsPerImage != k { meta["captions_per_image.\(n)"] = String(s.captionsPerImage) }
            tensors.append(StoredTensor(name: "\(n)/tokens", shape: [s.tokens.count], int32s: s.tokens))
            tensors.append(StoredTensor(name: "\(n)/offsets", shape: [s.offsets.count], int64s: s.offsets))
        }
        try TensorFiles.write(path, tensors, metadata: meta)
    }
}
