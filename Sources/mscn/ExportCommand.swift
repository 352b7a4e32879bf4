import ArgumentParser
import Foundation
import PrecompExport
import StageKit

/// `mscn export ...`: hands a run's data to other code bases.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run's data for other implementations.",
        subcommands: [Precomp.self]
    )

    struct Precomp: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a run's ingested data set in the NCR / official MSCN precomp layout.",
            discussion: """
            Reads RUN_FOLDER (Data/runs/<name>/ of a finished run: ingest/data, features_<split>, noise, split) \
            and writes OUT/<name>/{split}_ims.npy (float32 [N,R,D]) and {split}_caps.txt, the meta pairs as \
            OUT/<name>/meta_ims.npy + meta_caps.txt (one image row per caption), OUT/vocab/<name>_vocab.json, \
            the noisy caption→image map as OUT/noise_index/<name>_<ratio>.npy (int64, the official --noise_file), \
            and OUT/export.json. Captions are written so that they tokenise back to the run's token ids \
            (an unknown word becomes a word absent from the vocabulary, named in export.json). \
            OUT appears only when complete; an existing OUT is replaced only with --force.
            Official code: --data_path OUT --data_name <name> --vocab_path OUT/vocab --noise_file OUT/noise_index/<file>.
            """
        )

        @Argument(help: "A finished run folder (Data/runs/<name> or Data/runs/latest).") var runFolder: String
        @Argument(help: "Output folder (must not exist unless --force).") var out: String
        @Option(help: "Data set name: the folder under OUT and the vocabulary's prefix (the official --data_name).")
        var name = "f30k_precomp"
        @Option(parsing: .upToNextOption, help: "Splits to export (features and captions).") var splits = ["train", "dev", "test"]
        @Flag(name: .customLong("no-features"), help: "Captions, vocabulary, noise map and meta captions only (no .npy features).")
        var noFeatures = false
        @Flag(name: .customLong("no-noise"), help: "Leave out the noise map.") var noNoise = false
        @Flag(name: .customLong("no-meta"), help: "Leave out the meta pairs.") var noMeta = false
        @Flag(name: .customLong("keep-meta-captions"), help: "Export the whole training split even if the meta rule (COCO) took captions out of it.")
        var keepMetaCaptions = false
        @Flag(help: "Replace an existing OUT (only once the new export is complete).") var force = false

        func validate() throws {
            guard !splits.isEmpty else { throw ValidationError("--splits needs at least one split") }
            for s in splits where !["train", "dev", "test"].contains(s) {
                throw ValidationError("--splits: '\(s)' is not train, dev or test (the meta pairs are exported with the meta set)")
            }
            guard Set(splits).count == splits.count else { throw ValidationError("--splits lists a split twice") }
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw ValidationError("--name must be a plain folder name")
            }
        }

        func run() throws {
            Stage.run("mscn export precomp") {
                var o = PrecompExportOptions()
                o.name = name
                o.splits = splits
                o.features = !noFeatures
                o.noise = !noNoise
                o.meta = !noMeta
                o.keepMetaCaptions = keepMetaCaptions
                o.replace = force
                let summary = try PrecompExporter(sources: try ExportSources(runFolder: runFolder), options: o).run(to: out)
                for n in summary.notes { Stage.note(n) }
                for l in summary.lines { print("\(out)/\(l)") }
            }
        }
    }
}
