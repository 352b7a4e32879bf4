import Artefacts
import Captions
import Foundation
import Imaging
import StageKit
import TensorFile
import TwoWorkers

/// The image-folder layout: `images/` with JPEGs, `{split}_images.txt` and `{split}_caps.txt`.
/// Decodes (two threads), resizes to a square, and stores `pixels` u8 `[N,S,S,3]`.
struct ImageIngest {
    let options: IngestOptions
    init(_ options: IngestOptions) { self.options = options }

    func run() throws {
        let builder = CorpusBuilder(options: options)
        var splits = ["train", "dev", "test"]
        let metaList = FileManager.default.fileExists(atPath: options.rootFile("meta_images.txt"))
        if metaList != (builder.captionPath("meta") != nil) {
            throw StageError(metaList ? "meta_images.txt has no meta_caps.txt beside it" : "meta captions have no meta_images.txt beside them",
                             path: options.root)
        }
        if metaList { splits.append("meta") }

        let k = builder.captionsPerImage(try builder.requireCaptionPath("train"))
        var lists: [(split: String, names: [String], file: CaptionFile, k: Int)] = []
        for split in splits {
            var names = try readList(options.rootFile("\(split)_images.txt"))
            let capPath = try builder.requireCaptionPath(split)
            let splitK = try builder.captionsPerImage(split: split, path: capPath, k: k, images: names.count)
            let file = try builder.read(split, path: capPath, k: splitK, images: names.count)
            if split == "dev" && options.devLimit > 0 { names = Array(names.prefix(options.devLimit)) }
            if !options.skipBad {
                for n in names where !FileManager.default.fileExists(atPath: imagePath(n)) {
                    throw StageError("listed in \(split)_images.txt but missing (--skip-bad drops it with its captions)", path: imagePath(n))
                }
            }
            lists.append((split, names, file, splitK))
        }
        // Decode everything first (pixels go to a temporary file), so bad images are known
        // before the corpus is written.
        var captions: [SplitCaptions] = []
        var decoded: [(split: String, kept: Int, k: Int, dropped: DroppedImages, spool: String)] = []
        defer { for d in decoded { unlink(d.spool) } }
        for list in lists {
            let (keptImages, dropped, spool) = try decodeSplit(list.split, names: list.names)
            decoded.append((list.split, keptImages.count, list.k, dropped, spool))
            captions.append(SplitCaptions(split: list.split, file: list.file,
                                          keep: keptImages.flatMap { i in (i * list.k)..<((i + 1) * list.k) }, k: list.k))
        }
        try builder.write(captions)
        for d in decoded {
            try writePixels(split: d.split, count: d.kept, dropped: d.dropped.total, spool: d.spool)
            var note = ""
            if d.dropped.missing > 0 { note += "\t\(d.dropped.missing) missing" }
            if d.dropped.undecodable > 0 { note += "\t\(d.dropped.undecodable) undecodable" }
            if d.dropped.total > 0 { note += "\t\(d.dropped.total * d.k) captions dropped" }
            print("\(d.split)\t\(d.kept) images\t\(d.kept * d.k) captions (K=\(d.k))\tpixels \(options.imageSize)x\(options.imageSize)\(note)")
        }
    }

    func imagePath(_ name: String) -> String { options.rootFile("images/" + name) }

    private func readList(_ path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { throw StageError("no such file", path: path) }
        let data = try contents(path)
        guard let text = String(data: data, encoding: .utf8) else { throw StageError("not UTF-8 text", path: path) }
        var names = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while names.last?.isEmpty == true { names.removeLast() }
        if let blank = names.firstIndex(where: { $0.isEmpty }) {
            throw StageError("line \(blank + 1): empty file name", path: path)
        }
        guard !names.isEmpty else { throw StageError("lists no images", path: path) }
        return names
    }

    /// Images `--skip-bad` dropped from a split, by cause.
    struct DroppedImages {
        var missing = 0
        var undecodable = 0
        var total: Int { missing + undecodable }
    }

    /// Decodes and resizes a split in chunks on two threads; returns the indices of the images
    /// kept (in order), what was dropped, and a spool file holding the kept pixels back to back.
    private func decodeSplit(_ split: String, names: [String]) throws -> ([Int], DroppedImages, String) {
        let size = options.imageSize
        let spool = options.outFile(".\(split)-pixels.spool-\(getpid())")
        guard FileManager.default.createFile(atPath: spool, contents: nil), let handle = FileHandle(forWritingAtPath: spool) else {
            throw StageError("cannot create a temporary file", path: spool)
        }
        // The spool is the caller's to remove once returned; on a failure here it is removed now.
        var returned = false
        defer {
            try? handle.close()
            if !returned { unlink(spool) }
        }
        var kept: [Int] = []
        var dropped = DroppedImages()
        let progress = Progress("ingest \(split) images", total: names.count)
        let chunk = 64
        var start = 0
        while start < names.count {
            let end = min(start + chunk, names.count)
            let results = TwoWorkers.map(count: end - start) { i in
                Result { try load(imagePath(names[start + i]), size: size) }
            }
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let pixels):
                    do { try handle.write(contentsOf: pixels) } catch {
                        throw StageError("cannot write the decoded pixels (\(IOErrorText.reason(error)))", path: spool)
                    }
                    kept.append(start + i)
                case .failure(let error):
                    guard options.skipBad else { throw error }
                    Stage.note("mscn-ingest: skipping \(error)")
                    if case ImageLoadError.missing = error { dropped.missing += 1 } else { dropped.undecodable += 1 }
                }
            }
            start = end
            progress.update(start)
        }
        if dropped.total > 0 {
            Stage.note("mscn-ingest: \(split): dropped \(dropped.missing) missing and \(dropped.undecodable) undecodable image(s), and their captions")
        }
        guard !kept.isEmpty else { throw StageError("\(split): no image could be read and decoded", path: options.rootFile("\(split)_images.txt")) }
        returned = true
        return (kept, dropped, spool)
    }

    /// A listed image file that is not there (`--skip-bad` counts it apart from undecodable ones).
    enum ImageLoadError: Error, CustomStringConvertible {
        case missing(String)
        var description: String {
            switch self { case .missing(let path): return "\(path): listed but missing" }
        }
    }

    /// A file's bytes; Foundation's error says why not (a directory, no permission), where
    /// "cannot read" alone did not.
    private func contents(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw StageError(Stage.describe(error)) }
    }

    private func load(_ path: String, size: Int) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw ImageLoadError.missing(path) }
        let data = try contents(path)
        do {
            let image = try JPEG.decode([UInt8](data))
            return Resize.area(image, width: size, height: size).pixels
        } catch let e as JPEGError {
            throw StageError(e.description, path: path)
        }
    }

    private func writePixels(split: String, count: Int, dropped: Int, spool: String) throws {
        let s = options.imageSize
        let writer = try TensorFileWriter(path: options.outFile("images-\(split).tzst"),
                                          metadata: ["layout": "images", "split": split, "image_size": String(s),
                                                     "dropped": String(dropped)])
        try writer.beginTensor(name: Schema.pixels, dtype: .u8, shape: [count, s, s, 3])
        guard let handle = FileHandle(forReadingAtPath: spool) else { throw StageError("cannot reopen", path: spool) }
        defer { try? handle.close() }
        let rowBytes = s * s * 3
        for _ in 0..<count {
            let row = handle.readData(ofLength: rowBytes)
            guard row.count == rowBytes else { throw StageError("temporary pixel file is short", path: spool) }
            try row.withUnsafeBytes { try writer.append($0) }
        }
        try writer.endTensor()
        try writer.finish()
    }
}
