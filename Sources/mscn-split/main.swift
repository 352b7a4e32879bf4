import ArgumentParser
import Artefacts
import DataPrep
import Foundation
import StageKit

/// `mscn-split`: the meta (small clean) set and the training captions that stay (SPEC §3).
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-split",
        abstract: "Choose the meta (clean) set of a corpus by a layout rule.",
        discussion: """
        flickr: floor(--meta-fraction × training captions) dev captions, each with its own image. \
        coco: every dev pair plus one random caption of each of --coco-train-images training images, \
        whose captions all leave the training set. given: the corpus's meta split. \
        Writes meta_split (0 train, 1 dev, 2 meta), meta_caption, meta_image, train_keep, dev_select.
        """
    )

    @Option(help: "Corpus file written by mscn-ingest.")
    var corpus: String
    @Option(help: "Layout rule: flickr, coco or given.")
    var rule: String
    @Option(help: "Seed of the draw.")
    var seed: UInt64 = 0
    @Option(name: .customLong("meta-fraction"), help: "flickr rule: meta pairs as a fraction of the training captions.")
    var metaFraction: Double = 0.02
    @Option(name: .customLong("coco-train-images"), help: "coco rule: training images moved to the meta set (default: 6,328 of 113,287, as a fraction of the training images).")
    var cocoTrainImages: Int?
    @Flag(help: "Keep the meta set's dev images out of the dev images that choose the best round.")
    var disjoint = false
    @Option(help: "Output tensor file (meta.tzst).")
    var out: String

    func validate() throws {
        guard MetaRule(rawValue: rule) != nil else {
            throw ValidationError("--rule must be one of \(MetaRule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard metaFraction > 0, metaFraction <= 1 else { throw ValidationError("--meta-fraction \(metaFraction) is outside (0, 1]") }
        if let cocoTrainImages, cocoTrainImages < 0 { throw ValidationError("--coco-train-images must not be negative") }
    }

    func run() throws {
        Stage.run("mscn-split") {
            let options = MetaSelectionOptions(rule: MetaRule(rawValue: rule) ?? .flickr, seed: seed, metaFraction: metaFraction,
                                               cocoTrainImages: cocoTrainImages, disjoint: disjoint)
            let selection: MetaSelection
            do {
                selection = try MetaSelection.select(corpus: try Corpus.load(corpus), options: options, path: corpus)
            } catch let e as DataPrepError {
                throw StageError(e.description, path: corpus)
            }
            for w in selection.warnings { Stage.note("mscn-split: \(w)") }
            let s = selection.split
            var metadata = [
                "stage": "mscn-split", "rule": rule, "seed": "\(seed)", "disjoint": "\(disjoint)",
                "meta_pairs": "\(s.caption.count)", "input_digest": try ContentDigest.file(corpus),
                "train_kept": "\(s.trainKeep.lazy.filter { $0 != 0 }.count)",
                "dev_selected": "\(s.devSelect.lazy.filter { $0 != 0 }.count)",
            ]
            if options.rule == .flickr { metadata["meta_fraction"] = "\(metaFraction)" }
            if options.rule == .coco { metadata["coco_train_images"] = "\(s.source.lazy.filter { $0 == MetaSelection.fromTrain }.count)" }
            try s.save(out, metadata: metadata)
            print("meta pairs \(s.caption.count), training captions kept \(metadata["train_kept"] ?? "?") of \(s.trainKeep.count), dev images for model selection \(metadata["dev_selected"] ?? "?") of \(s.devSelect.count)")
        }
    }
}

SplitCommand.main(NegativeValues.commandLine)
