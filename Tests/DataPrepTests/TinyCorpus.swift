import Artefacts

/// A small corpus with a train, dev and meta split whose captions are distinct token runs.
enum TinyCorpus {
    static func split(images: Int, k: Int, salt: Int) -> CaptionSet {
        var tokens: [Int32] = [], offsets: [Int64] = [0]
        for j in 0..<(images * k) {
            let words = 1 + (j * 7 + salt) % 4
            tokens.append(1)
            for w in 0..<words { tokens.append(Int32(4 + (j + w + salt) % 16)) }
            tokens.append(2)
            offsets.append(Int64(tokens.count))
        }
        return CaptionSet(tokens: tokens, offsets: offsets, captionsPerImage: k)
    }

    static func make(train: Int = 24, dev: Int = 12, meta: Int? = 3, k: Int = 5) -> Corpus {
        var splits = ["train": split(images: train, k: k, salt: 0), "dev": split(images: dev, k: k, salt: 1)]
        if let meta { splits["meta"] = split(images: meta, k: k, salt: 2) }
        return Corpus(splits: splits, vocabularySize: 20)
    }
}
