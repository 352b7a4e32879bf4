import Artefacts
import Captions
import Foundation
import StageKit
import TensorFile

/// The standard precomputed layout: `{split}_ims.npy` float32 `[N,R,D]` and `{split}_caps.txt|tsv`.
/// Features are streamed row by row into `images-<split>.tzst` (Flickr30K's 8.5 GB train
/// file never sits in memory).
struct PrecompIngest {
    let options: IngestOptions
    init(_ options: IngestOptions) { self.options = options }

    func run() throws {
        let builder = CorpusBuilder(options: options)
        var splits = ["train", "dev", "test"]
        let metaFeatures = FileManager.default.fileExists(atPath: options.rootFile("meta_ims.npy"))
        let metaCaptions = builder.captionPath("meta") != nil
        if metaFeatures != metaCaptions {
            throw StageError(metaFeatures ? "meta_ims.npy has no meta_caps.txt/.tsv beside it" : "meta captions have no meta_ims.npy beside them",
                             path: options.root)
        }
        if metaFeatures { splits.append("meta") }

        // Check every header and caption file before writing anything.
        let k = builder.captionsPerImage(try builder.requireCaptionPath("train"))
        var readers: [(String, NPYReader, Int, Int)] = []
        var captions: [SplitCaptions] = []
        for split in splits {
            let reader = try NPYReader(path: options.rootFile("\(split)_ims.npy"))
            guard reader.dtype == .f32, reader.shape.count == 3, reader.shape.allSatisfy({ $0 > 0 }) else {
                throw StageError("expected float32 features [N, regions, dim], found \(reader.dtype.rawValue) \(reader.shape)", path: reader.path)
            }
            if let first = readers.first, Array(first.1.shape.dropFirst()) != Array(reader.shape.dropFirst()) {
                throw StageError("regions×dim \(Array(reader.shape.dropFirst())) differ from the training features' \(Array(first.1.shape.dropFirst()))", path: reader.path)
            }
            let capPath = try builder.requireCaptionPath(split)
            let splitK = try builder.captionsPerImage(split: split, path: capPath, k: k, images: reader.rowCount)
            let file = try builder.read(split, path: capPath, k: splitK, images: reader.rowCount)
            let kept = split == "dev" && options.devLimit > 0 ? min(reader.rowCount, options.devLimit) : reader.rowCount
            readers.append((split, reader, kept, splitK))
            captions.append(SplitCaptions(split: split, file: file, keep: Array(0..<(kept * splitK)), k: splitK))
        }
        try builder.write(captions)
        // Features are checked as they stream (NaN, short reads): when one split fails, what this
        // run already wrote goes too, so no finished-looking corpus is left behind.
        var written = [options.outFile("corpus.tzst"), options.outFile("vocab.json")]
        for (split, reader, kept, splitK) in readers {
            do { try copyFeatures(split: split, reader: reader, rows: kept) } catch {
                for path in written { unlink(path) }
                throw error
            }
            written.append(options.outFile("images-\(split).tzst"))
            print("\(split)\t\(kept) images\t\(kept * splitK) captions (K=\(splitK))\tfeatures \(Array(reader.shape.dropFirst()))")
        }
    }

    /// Streams the first `rows` rows of the .npy into `features` of `images-<split>.tzst`.
    private func copyFeatures(split: String, reader: NPYReader, rows: Int) throws {
        let out = options.outFile("images-\(split).tzst")
        // zstd level 1: on ReLU features it packs within a few percent of level 3 at ~1.4x the speed,
        // which matters for an 8.5 GB file.
        let writer = try TensorFileWriter(path: out, metadata: ["layout": "precomp", "split": split,
                                                                "source": (reader.path as NSString).lastPathComponent],
                                          compressionLevel: 1)
        var shape = reader.shape
        shape[0] = rows
        try writer.beginTensor(name: Schema.features, dtype: .f32, shape: shape)
        // Whole rows, about 32 MB per read; handed to the writer one row at a time so its
        // frame buffer stays near one frame.
        let chunk = max(1, (32 << 20) / max(reader.rowBytes, 1))
        let progress = Progress("ingest \(split) features", total: rows)
        var start = 0
        while start < rows {
            let end = min(start + chunk, rows)
            let bytes = try reader.readRows(start..<end)
            // NaN or infinite features train a net to NaN without an error: refuse them here, by row.
            try bytes.withUnsafeBytes { raw in
                for i in 0..<(raw.count / 4) {
                    let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                    if !v.isFinite {
                        throw StageError("feature \(v) in row \(start + 4 * i / max(reader.rowBytes, 1)): features must be finite", path: reader.path)
                    }
                }
            }
            try bytes.withUnsafeBytes { raw in
                for r in 0..<(end - start) {
                    try writer.append(UnsafeRawBufferPointer(rebasing: raw[(r * reader.rowBytes)..<((r + 1) * reader.rowBytes)]))
                }
            }
            start = end
            progress.update(start)
        }
        try writer.endTensor()
        try writer.finish()
    }
}
