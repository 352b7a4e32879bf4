import Artefacts
import Captions
import Foundation
import StageKit
import TensorFile
import TwoWorkers

/// One split's caption file, the caption indices kept (in order) and its captions per image.
struct SplitCaptions {
    var split: String
    var file: CaptionFile
    var keep: [Int]
    var k: Int
}

/// Captions of every split → token ids with one vocabulary; writes corpus.tzst and vocab.json.
struct CorpusBuilder {
    let options: IngestOptions

    /// The caption file of a split: `{split}_caps.txt`, else `{split}_caps.tsv`; nil if neither exists.
    func captionPath(_ split: String) -> String? {
        for ext in ["txt", "tsv"] {
            let p = options.rootFile("\(split)_caps.\(ext)")
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    func requireCaptionPath(_ split: String) throws -> String {
        guard let p = captionPath(split) else {
            throw StageError("no caption file (expected \(split)_caps.txt or \(split)_caps.tsv)", path: options.root)
        }
        return p
    }

    /// K of the train, dev and test splits: the flag, else 1 for .tsv captions and 5 otherwise.
    func captionsPerImage(_ path: String) -> Int {
        options.captionsPerImage ?? (path.hasSuffix(".tsv") ? 1 : 5)
    }

    /// K of a split: the meta split has its own (the official meta set is caption–image pairs,
    /// one image row per caption, K = 1, beside K = 5 train/dev/test): the flag, else the
    /// caption count over the image count. Other splits use `k`.
    func captionsPerImage(split: String, path: String, k: Int, images: Int) throws -> Int {
        guard split == "meta" else { return k }
        if let given = options.metaCaptionsPerImage { return given }
        let count = try CaptionFile.read(path).captions.count
        guard images > 0, count % images == 0, count >= images else {
            throw StageError("\(count) captions for \(images) meta images fit no K: expected \(images) (K=1, one caption per image row, "
                             + "as the official meta_ims.npy/meta_caps.txt) or a multiple of \(images) (K captions per image)", path: path)
        }
        return count / images
    }

    /// Reads a caption file and checks its count against K (and the image count when known).
    func read(_ split: String, path: String, k: Int, images: Int?) throws -> CaptionFile {
        let file = try CaptionFile.read(path)
        guard file.captions.count % k == 0 else {
            throw StageError("\(file.captions.count) captions is not a multiple of K=\(k)", path: path)
        }
        if let images, file.captions.count != images * k {
            let hint = split == "meta" ? ", from --meta-captions-per-image" : split == "train" ? "" : ", the training split's"
            throw StageError("\(file.captions.count) captions for \(images) images, expected \(images * k) (K=\(k)\(hint))", path: path)
        }
        return file
    }

    /// Tokenises on two threads (NLTK's regular expressions cost ~0.1 ms a caption; COCO has 616K).
    static func tokenize(_ texts: [String]) -> [[String]] {
        TwoWorkers.map(count: texts.count) { Tokenizer.tokenize(texts[$0]) }
    }

    /// Tokenises, builds or loads the vocabulary, encodes, reports unknown-word rates, and writes
    /// both artefacts. `captions` maps split → (file, kept caption indices in order, K).
    func write(_ captions: [SplitCaptions]) throws {
        let tokenized = captions.map { entry in Self.tokenize(entry.keep.map { entry.file.captions[$0] }) }
        for (entry, toks) in zip(captions, tokenized) {
            if let bad = toks.firstIndex(where: { $0.isEmpty }) {
                let line = entry.file.lines[entry.keep[bad]]
                throw StageError("line \(line): caption has no words", path: entry.file.path)
            }
        }
        let vocabulary: Vocabulary
        if let path = options.vocabulary {
            vocabulary = try Vocabulary.load(path)
        } else {
            guard let train = captions.firstIndex(where: { $0.split == "train" }) else {
                throw StageError("no training captions to build a vocabulary from", path: options.root)
            }
            vocabulary = try Vocabulary.build(from: tokenized[train], minCount: options.minCount)
        }
        var splits: [String: CaptionSet] = [:]
        for (entry, toks) in zip(captions, tokenized) {
            var tokens: [Int32] = []
            var offsets: [Int64] = [0]
            var unknown = 0, words = 0
            var unknownOnly: [Int] = []   // lines of captions none of whose words the vocabulary knows
            for (i, t) in toks.enumerated() {
                let (ids, unk) = vocabulary.encode(t)
                tokens.append(contentsOf: ids)
                offsets.append(Int64(tokens.count))
                unknown += unk
                words += t.count
                if unk == t.count { unknownOnly.append(entry.file.lines[entry.keep[i]]) }
            }
            let rate = words > 0 ? 100 * Double(unknown) / Double(words) : 0
            Stage.note("mscn-ingest: \(entry.split): \(unknown) of \(words) words unknown (\(String(format: "%.2f", rate))%)")
            // Every word unknown is a vocabulary that does not belong to these captions (or a
            // --min-count above every word's count): each caption would read <unk> <unk> ...
            if words > 0 && unknown == words {
                let source = options.vocabulary.map { "the vocabulary \($0)" } ?? "a vocabulary of words seen at least \(options.minCount) times"
                throw StageError("\(entry.split): every word of every caption is unknown to \(source)", path: entry.file.path)
            }
            if !unknownOnly.isEmpty {
                let lines = unknownOnly.prefix(5).map(String.init).joined(separator: ", ") + (unknownOnly.count > 5 ? ", …" : "")
                Stage.note("mscn-ingest: warning: \(entry.split): \(unknownOnly.count) caption(s) of unknown words only (all <unk>), line(s) \(lines) of \(entry.file.path)")
            }
            splits[entry.split] = CaptionSet(tokens: tokens, offsets: offsets, captionsPerImage: entry.k)
        }
        let corpus = Corpus(splits: splits, vocabularySize: vocabulary.count)
        try corpus.save(options.outFile("corpus.tzst"), metadata: [
            "layout": options.layout,
            "vocabulary": options.vocabulary == nil ? "built, min count \(options.minCount)" : "given",
            "dev_limit": String(options.devLimit),
        ])
        try AtomicWrite.write(Data(vocabulary.json().utf8), to: options.outFile("vocab.json"))
        print("vocabulary\t\(vocabulary.count) words")
    }
}
