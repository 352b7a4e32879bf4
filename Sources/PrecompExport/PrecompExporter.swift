import Artefacts
import Captions
import Foundation
import StageKit
import TensorFile

/// What `mscn export precomp` writes.
public struct PrecompExportOptions: Sendable {
    /// The data set's folder name, which the official code's `--data_name` must match
    /// (`f30k_precomp` / `coco_precomp` select its 5-captions-per-image text reader).
    public var name = "f30k_precomp"
    public var splits = ["train", "dev", "test"]
    public var features = true
    public var noise = true
    public var meta = true
    /// Export the whole training split even when the meta rule took captions out of it.
    public var keepMetaCaptions = false
    public var replace = false

    public init() {}
}

/// Writes an ingested data set of a run folder in the NCR / official MSCN precomp layout:
///
///     OUT/<name>/{split}_ims.npy          float32 [N, R, D]
///     OUT/<name>/{split}_caps.txt         one caption per line, K consecutive lines per image
///     OUT/<name>/meta_ims.npy, meta_caps.txt   the meta pairs, one image row per caption (K = 1)
///     OUT/vocab/<name>_vocab.json         {"word2idx", "idx2word", "idx"}
///     OUT/noise_index/<name>_<ratio>.npy  int64 [M]: the noisy caption→image map
///     OUT/export.json                     what was exported, from where, and how to run on it
///
/// The official `data.py` reads `<data_path>/<data_name>/{split}_ims.npy|_caps.txt` (the meta
/// set as split "meta", its im_div 1 when rows = captions), `<vocab_path>/<data_name>_vocab.json`,
/// and `np.load(noise_file)` as its `t2i_index`.
public struct PrecompExporter {
    public let sources: ExportSources
    public let options: PrecompExportOptions

    public init(sources: ExportSources, options: PrecompExportOptions) {
        self.sources = sources
        self.options = options
    }

    /// One line per file written, for the command to print.
    public struct Summary {
        public var lines: [String] = []
        public var notes: [String] = []
    }

    public func run(to out: String) throws -> Summary {
        var summary = Summary()
        let corpus = try Corpus.load(sources.corpus)
        let vocabulary: Vocabulary
        do { vocabulary = try Vocabulary.load(sources.vocabulary) } catch { throw StageError("\(error)") }
        guard vocabulary.count == corpus.vocabularySize else {
            throw StageError("vocabulary has \(vocabulary.count) words, the corpus was encoded with \(corpus.vocabularySize)", path: sources.vocabulary)
        }
        let text = CaptionText(vocabulary: vocabulary)
        let train = try corpus.split("train", path: sources.corpus)

        // Everything is checked before the first byte is written.
        var noisy: NoisyMap?
        if options.noise {
            guard let path = sources.noise else {
                throw StageError("no noise/map in the run folder (pass --no-noise to export without it)", path: sources.folder)
            }
            let map = try NoisyMap.load(path)
            try Self.checkNoise(map, train: train, path: path)
            noisy = map
        }
        var meta: MetaSplit?
        if options.meta {
            guard let path = sources.meta else {
                throw StageError("no split/meta in the run folder (pass --no-meta to export without it)", path: sources.folder)
            }
            let m = try MetaSplit.load(path)
            if m.trainKeep.contains(0) && !options.keepMetaCaptions {
                let n = m.trainKeep.lazy.filter { $0 == 0 }.count
                throw StageError("the meta split takes \(n) captions out of the training set (COCO rule); the precomp layout cannot say so — pass --keep-meta-captions to export the whole training split anyway", path: path)
            }
            if m.devSelect.contains(0) {
                summary.notes.append("note: the run chose its best round on part of the dev split (--disjoint); the exported dev split is whole, as the official code uses it")
            }
            meta = m
        }
        var featurePaths: [String: String] = [:]
        if options.features {
            var needed = Set(options.splits)
            if let meta {
                for s in Set(meta.source) { needed.insert(try Self.splitName(source: s, path: sources.meta ?? "")) }
            }
            for split in needed.sorted() {
                guard let p = sources.features(split) else {
                    throw StageError("no features for split \(split) (features_\(split)/features); pass --no-features to export captions only", path: sources.folder)
                }
                featurePaths[split] = p
            }
        }
        for split in options.splits {
            let set = try corpus.split(split, path: sources.corpus)
            if let p = featurePaths[split] {
                let reader = try TensorFileReader(path: p)
                try Artefacts.Schema.requireFeatureSplit(recorded: reader.metadata["split"], expected: split, path: p)
                let rows = try reader.info(Artefacts.Schema.features).shape
                guard rows.count == 3, rows[0] == set.imageCount else {
                    throw StageError("features \(rows) do not match the \(set.imageCount) images of split \(split)", path: p)
                }
            }
        }
        if ![1, 5].contains(train.captionsPerImage) {
            summary.notes.append("note: K = \(train.captionsPerImage) captions per image; the official code assumes 5 (f30k/coco) and infers 1 only when rows = captions")
        }

        let staging = try StagingFolder(destination: out, replace: options.replace)
        let name = options.name
        for split in options.splits {
            let set = try corpus.split(split, path: sources.corpus)
            let capPath = try staging.file("\(name)/\(split)_caps.txt")
            var lines: [String] = []
            lines.reserveCapacity(set.captionCount)
            for j in 0..<set.captionCount { lines.append(try text.line(j, of: set, split: split)) }
            try writeLines(lines, to: capPath)
            summary.lines.append("\(name)/\(split)_caps.txt\t\(set.captionCount) captions, K=\(set.captionsPerImage)")
            if let p = featurePaths[split] {
                let reader = try TensorFileReader(path: p)
                let info = try reader.info(Artefacts.Schema.features)
                let rowBytes = max(info.byteCount / max(info.shape[0], 1), 1)
                let bar = StageKit.Progress("export \(split)_ims.npy (images)", total: info.shape[0])
                try NPY.exportTensor(Artefacts.Schema.features, from: reader, to: try staging.file("\(name)/\(split)_ims.npy")) { done, _ in
                    bar.update(done / rowBytes)
                }
                summary.lines.append("\(name)/\(split)_ims.npy\tfloat32 \(info.shape)")
            }
        }
        if let meta {
            try writeMeta(meta, corpus: corpus, text: text, featurePaths: featurePaths, staging: staging, summary: &summary)
        }
        try writeLines([vocabulary.json().trimmingCharacters(in: .newlines)], to: try staging.file("vocab/\(name)_vocab.json"))
        summary.lines.append("vocab/\(name)_vocab.json\t\(vocabulary.count) words")
        var noiseFile: String?
        if let noisy {
            let rel = "noise_index/\(name)_\(sources.noiseRatio ?? "noise").npy"
            try NPY.write(StoredTensor(name: "t2i", shape: [noisy.imageOfCaption.count], int64s: noisy.imageOfCaption), to: try staging.file(rel))
            let wrong = noisy.clean.lazy.filter { $0 == 0 }.count
            summary.lines.append("\(rel)\tint64 [\(noisy.imageOfCaption.count)], \(wrong) captions on another image")
            noiseFile = rel
        }
        try writeRecord(staging: staging, train: train, noiseFile: noiseFile, unknownWord: text.unknownWord)
        summary.lines.append("export.json")
        try staging.publish()
        return summary
    }

    static func checkNoise(_ map: NoisyMap, train: CaptionSet, path: String) throws {
        guard map.imageOfCaption.count == train.captionCount else {
            throw StageError("noise map has \(map.imageOfCaption.count) entries, the training split has \(train.captionCount) captions", path: path)
        }
        let k = train.captionsPerImage
        for (j, (i, c)) in zip(map.imageOfCaption, map.clean).enumerated() {
            guard i >= 0, Int(i) < train.imageCount else {
                throw StageError("caption \(j) maps to image \(i), outside 0..<\(train.imageCount)", path: path)
            }
            // The official code derives clean labels from the map; ours must say the same.
            guard (c == 1) == (Int(i) == j / k) else {
                throw StageError("caption \(j): clean label \(c) disagrees with its image \(i) (own image \(j / k))", path: path)
            }
        }
    }

    static func splitName(source: UInt8, path: String) throws -> String {
        switch source {
        case 0: return "train"
        case 1: return "dev"
        case 2: return "meta"
        default: throw StageError("meta pair source \(source) is not train (0), dev (1) or meta (2)", path: path)
        }
    }

    /// Meta pairs as their own split with one image row per caption, in the meta file's order.
    private func writeMeta(_ meta: MetaSplit, corpus: Corpus, text: CaptionText, featurePaths: [String: String],
                           staging: StagingFolder, summary: inout Summary) throws {
        let name = options.name
        let metaPath = sources.meta ?? ""
        var lines: [String] = []
        lines.reserveCapacity(meta.caption.count)
        for (p, (s, c)) in zip(meta.source, meta.caption).enumerated() {
            let split = try Self.splitName(source: s, path: metaPath)
            let set = try corpus.split(split, path: sources.corpus)
            guard c >= 0, Int(c) < set.captionCount, meta.image[p] >= 0, Int(meta.image[p]) < set.imageCount else {
                throw StageError("meta pair \(p): caption \(c) / image \(meta.image[p]) outside split \(split)", path: metaPath)
            }
            lines.append(try text.line(Int(c), of: set, split: split))
        }
        try writeLines(lines, to: try staging.file("\(name)/meta_caps.txt"))
        summary.lines.append("\(name)/meta_caps.txt\t\(lines.count) meta pairs (K=1)")
        guard options.features else { return }
        var readers: [String: TensorFileReader] = [:]
        var shape: [Int] = []
        for split in Set(meta.source.map { (try? Self.splitName(source: $0, path: metaPath)) ?? "" }) {
            guard let p = featurePaths[split] else { continue }
            let r = try TensorFileReader(path: p)
            readers[split] = r
            shape = try r.info(Artefacts.Schema.features).shape
        }
        let writer = try NPYRowWriter(path: try staging.file("\(name)/meta_ims.npy"), dtype: .f32,
                                      shape: [meta.image.count] + shape.dropFirst())
        let bar = StageKit.Progress("export meta_ims.npy", total: meta.image.count)
        for (p, (s, i)) in zip(meta.source, meta.image).enumerated() {
            let split = try Self.splitName(source: s, path: metaPath)
            guard let r = readers[split] else { throw StageError("no features for split \(split)", path: sources.folder) }
            let row = try r.readRows(Artefacts.Schema.features, Int(i)..<(Int(i) + 1))
            guard row.shape.dropFirst().elementsEqual(shape.dropFirst()) else {
                throw StageError("\(split) features have regions×dim \(Array(row.shape.dropFirst())), expected \(Array(shape.dropFirst()))", path: r.path)
            }
            try writer.append(row.bytes)
            bar.update(p + 1)
        }
        try writer.close()
        summary.lines.append("\(name)/meta_ims.npy\tfloat32 \([meta.image.count] + shape.dropFirst())")
    }

    private func writeLines(_ lines: [String], to path: String) throws {
        var data = Data()
        for l in lines {
            data.append(contentsOf: l.utf8)
            data.append(0x0A)
        }
        try write(data, to: path)
    }

    private func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw StageError("cannot write (\(IOErrorText.reason(error)))", path: path) }
    }

    private func writeRecord(staging: StagingFolder, train: CaptionSet, noiseFile: String?, unknownWord: String) throws {
        var record: [String: Any] = [
            "producer": "mscn export precomp",
            "run_folder": URL(fileURLWithPath: sources.folder).standardizedFileURL.path,
            "data_name": options.name,
            "splits": options.splits,
            "features": options.features,
            "captions_per_image": train.captionsPerImage,
            "unknown_word": unknownWord,
            "layout": "\(options.name)/{split}_ims.npy + {split}_caps.txt; vocab/\(options.name)_vocab.json; meta as split 'meta' (one image row per caption)",
        ]
        if let noiseFile {
            record["noise_file"] = noiseFile
            record["noise_ratio"] = sources.noiseRatio ?? ""
        }
        if options.meta { record["meta"] = "\(options.name)/meta_{ims.npy,caps.txt}" }
        let data = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try write(data, to: try staging.file("export.json"))
    }
}
