import ArgumentParser
import Artefacts
import DataPrep
import Foundation
import StageKit
import TensorFile

/// `mscn-noise`: the noisy caption→image map and clean labels of one split (SPEC §2).
struct NoiseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-noise",
        abstract: "Make (or import) the noisy caption→image map of a corpus split, with clean labels.",
        discussion: """
        Writes t2i (i64 [M], noisy image of every caption) and clean (u8 [M], 1 = caption still on \
        its own image) with a manifest in the file metadata. The realised noise rate goes to stderr; \
        it is a little below --ratio because shuffled captions can land on their own image.
        """
    )

    @Option(help: "Corpus file written by mscn-ingest.")
    var corpus: String
    @Option(help: "Split to add noise to.")
    var split = "train"
    @Option(help: "Noise ratio in [0, 1). Required unless --import is given.")
    var ratio: Double?
    @Option(help: "Seed of the noise draw.")
    var seed: UInt64 = 0
    @Option(name: .customLong("protocol"), help: "caption: the reference's caption-level shuffle; image: all K captions of an image move together.")
    var noiseProtocol: String = NoiseProtocol.caption.rawValue
    @Option(name: .customLong("import"), help: "Use this .npy noise index (int32/int64, one entry per caption or per image) instead of drawing.")
    var importFile: String?
    @Option(help: "Also write the manifest as JSON here.")
    var manifest: String?
    @Option(help: "Output tensor file (noise.tzst).")
    var out: String

    func validate() throws {
        guard NoiseProtocol(rawValue: noiseProtocol) != nil else {
            throw ValidationError("--protocol must be one of \(NoiseProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if importFile == nil {
            guard let ratio else { throw ValidationError("give --ratio (or --import)") }
            guard ratio >= 0, ratio < 1 else { throw ValidationError("--ratio \(ratio) is outside [0, 1)") }
        } else if ratio != nil {
            throw ValidationError("--ratio and --import exclude each other")
        }
    }

    func run() throws {
        Stage.run("mscn-noise") {
            let captions = try Corpus.load(corpus).split(split, path: corpus)
            let images = captions.imageCount, k = captions.captionsPerImage
            let map: NoisyMap, manifestValue: NoiseManifest
            let digest = try ContentDigest.file(corpus)
            if let importFile {
                map = try NoiseInjection.importIndex(try NPY.read(importFile), images: images, captionsPerImage: k, path: importFile)
                manifestValue = NoiseManifest(protocolName: "import", ratio: nil, seed: nil, map: map, images: images,
                                              captionsPerImage: k, split: split, inputDigest: digest,
                                              importDigest: try ContentDigest.file(importFile))
            } else {
                let p = NoiseProtocol(rawValue: noiseProtocol) ?? .caption
                let r = ratio ?? 0
                map = try NoiseInjection.inject(images: images, captionsPerImage: k, ratio: r, seed: seed, protocol: p)
                manifestValue = NoiseManifest(protocolName: p.rawValue, ratio: r, seed: seed, map: map, images: images,
                                              captionsPerImage: k, split: split, inputDigest: digest)
            }
            var writes: [(path: String, write: () throws -> Void)] = [(out, { try map.save(out, metadata: manifestValue.metadata) })]
            if let manifest {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                writes.append((manifest, { try AtomicWrite.write(encoder.encode(manifestValue), to: manifest) }))
            }
            try StageOutputs.writeAll(writes)
            Stage.note(String(format: "mscn-noise: %d of %d %@ captions noisy, realised noise rate %.4f",
                              manifestValue.noisyCaptions, manifestValue.captions, split, manifestValue.realisedNoiseRate))
        }
    }
}

NoiseCommand.main(NegativeValues.commandLine)
