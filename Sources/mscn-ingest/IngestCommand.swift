import ArgumentParser
import Foundation
import StageKit

/// `mscn-ingest`: turns a dataset folder into the pipeline's corpus, vocabulary and per-split
/// image files (decoded pixels or imported region features).
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-ingest",
        abstract: "Read a precomp or JPEG dataset folder into corpus.tzst, vocab.json and images-<split>.tzst.",
        discussion: """
        precomp: <root>/{train,dev,test}_ims.npy (float32 [N,R,D]) with {split}_caps.txt (K per image) \
        or {split}_caps.tsv (image id TAB caption, K = 1); an optional meta split, whose K is its own \
        (the official meta_ims.npy has one row per line of meta_caps.txt: K = 1, images may repeat).
        images: <root>/images/*.jpg, <root>/{split}_images.txt (one file name per line) and \
        {split}_caps.txt (K consecutive captions per listed image); an optional meta split.
        Writes corpus.tzst, vocab.json and images-<split>.tzst into --out-dir.
        """
    )

    @Option(help: "Dataset layout: images or precomp.") var layout: Layout
    @Option(help: "Dataset folder.") var root: String
    @Option(name: .customLong("out-dir"), help: "Folder for corpus.tzst, vocab.json and images-<split>.tzst (created if missing).")
    var outDir: String
    @Option(name: .customLong("captions-per-image"), help: "Captions per image K (default: 5, or 1 for .tsv captions).")
    var captionsPerImage: Int?
    @Option(name: .customLong("meta-captions-per-image"),
            help: "Captions per image of the meta split (default: its caption count over its image count; 1 for the official caption–image pairs).")
    var metaCaptionsPerImage: Int?
    @Option(help: "Existing vocabulary json (word2idx/idx2word/idx) to use instead of building one.") var vocab: String?
    @Option(name: .customLong("min-count"), help: "Minimum count in training captions for a word to enter the vocabulary.")
    var minCount: Int = 4
    @Option(name: .customLong("image-size"), help: "images layout: side of the square the images are resized to (area averaging; aspect ratio not kept).")
    var imageSize: Int = 64
    @Flag(name: .customLong("skip-bad"), help: "images layout: drop images that are missing or do not decode (and their captions) instead of failing.")
    var skipBad = false
    @Option(name: .customLong("dev-limit"), help: "Keep only the first N dev images (0 keeps all).")
    var devLimit: Int = 1000

    enum Layout: String, ExpressibleByArgument, CaseIterable { case images, precomp }

    func validate() throws {
        if let k = captionsPerImage, k < 1 { throw ValidationError("--captions-per-image must be at least 1") }
        if let k = metaCaptionsPerImage, k < 1 { throw ValidationError("--meta-captions-per-image must be at least 1") }
        guard minCount >= 1 else { throw ValidationError("--min-count must be at least 1") }
        guard (1...4096).contains(imageSize) else { throw ValidationError("--image-size must be in 1...4096") }
        guard devLimit >= 0 else { throw ValidationError("--dev-limit must be 0 (no limit) or positive") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder) else { throw ValidationError("--root \(root): no such folder") }
        guard isFolder.boolValue else { throw ValidationError("--root \(root): a file, not a folder (the data set's folder, with its caption and image lists)") }
    }

    func run() throws {
        Stage.run("mscn-ingest") {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let options = IngestOptions(layout: layout.rawValue, root: root, outDir: outDir, captionsPerImage: captionsPerImage,
                                        metaCaptionsPerImage: metaCaptionsPerImage,
                                        vocabulary: vocab, minCount: minCount, imageSize: imageSize,
                                        skipBad: skipBad, devLimit: devLimit)
            switch layout {
            case .precomp: try PrecompIngest(options).run()
            case .images: try ImageIngest(options).run()
            }
        }
    }
}

struct IngestOptions {
    var layout: String
    var root: String
    var outDir: String
    var captionsPerImage: Int?
    var metaCaptionsPerImage: Int?
    var vocabulary: String?
    var minCount: Int
    var imageSize: Int
    var skipBad: Bool
    var devLimit: Int

    func rootFile(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
    func outFile(_ name: String) -> String { (outDir as NSString).appendingPathComponent(name) }
}
