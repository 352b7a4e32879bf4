import ArgumentParser
import Artefacts
import Foundation
import Imaging
import StageKit
import TensorFile

/// `mscn-features`: grid region features from decoded pixels; precomputed features pass through.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-features",
        abstract: "Region features [N,36,D] for one split (images-<split>.tzst → features-<split>.tzst).",
        discussion: """
        Pixels (u8 [N,H,W,3]) become 6×6 grid regions, each described by colour, gradient-orientation \
        and fixed random filter-bank statistics (128 values; other --dim values pad or project). \
        A file that already holds precomputed `features` is hard-linked to --out unchanged.
        """
    )

    @Option(help: "images-<split>.tzst written by mscn-ingest.") var images: String
    @Option(help: "Output features-<split>.tzst.") var out: String
    @Option(help: "Feature dimension D (ignored for precomputed features).") var dim: Int = RegionFeatureExtractor.rawDimension
    @Option(help: "Seed of the filter bank and projection (use the same for every split).") var seed: UInt64 = 0
    @Option(name: .customLong("chunk"), help: "Images per chunk (bounds memory).") var chunk: Int = 256

    func validate() throws {
        guard (1...65536).contains(dim) else { throw ValidationError("--dim must be in 1...65536") }
        guard chunk >= 1 else { throw ValidationError("--chunk must be positive") }
        let same = URL(fileURLWithPath: images).standardizedFileURL.path == URL(fileURLWithPath: out).standardizedFileURL.path
        guard !same else { throw ValidationError("--out must differ from --images") }
    }

    func run() throws {
        Stage.run("mscn-features") {
            try StageOutputs.requireWritableFolders([out])
            let reader = try TensorFileReader(path: images)
            if reader.contains(Schema.features) {
                let info = try reader.info(Schema.features)
                guard info.dtype == .f32, info.shape.count == 3, info.shape.allSatisfy({ $0 > 0 }) else {
                    throw StageError("features must be f32 [N,R,D] with N, R, D > 0, found \(info.dtype.rawValue) \(info.shape)", path: images)
                }
                let how = try PassThrough.link(images, to: out)
                Stage.note("mscn-features: precomputed features \(info.shape) passed through (\(how))")
                print("\(out)\t\(info.shape[0]) images\tfeatures \(Array(info.shape.dropFirst()))\tpassed through")
                return
            }
            let extractor = RegionFeatureExtractor(dimension: dim, seed: seed)
            let n = try GridFeatures.run(reader: reader, out: out, extractor: extractor, chunk: chunk,
                                         metadata: ["seed": String(seed), "split": reader.metadata["split"] ?? ""])
            print("\(out)\t\(n) images\tfeatures [\(extractor.regionCount), \(dim)]")
        }
    }
}
