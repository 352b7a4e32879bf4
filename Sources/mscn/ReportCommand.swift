import ArgumentParser
import Foundation
import Reporting
import StageKit

/// `mscn report`: the self-contained HTML report of one run, as a deterministic pipeline stage.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report (inline SVG figures, no scripts) of one run.",
        discussion: """
            Every input is optional: a section whose files are not given says what is missing. \
            A file that is given but unreadable or malformed is an error. Per-round lists are in \
            round order; --run fills the inputs not given from a run folder's stage outputs; --masks-a/--masks-b pair up one to one with --purify-a/--purify-b. \
            The same inputs give the same bytes.
            """
    )

    @Option(help: "Where to write the HTML report.")
    var out: String?
    @Flag(help: "Print the run in a few lines (warm-up AUC, first and last purification, dev rSum per round, test rSum); with --out as well as the page.")
    var summary = false
    @Option(name: .customLong("run"), help: ArgumentHelp("A finished run folder (e.g. Data/runs/latest): take every input not given by a flag from its stage outputs.", valueName: "dir"))
    var runFolder: String?
    @Option(help: "Title of the page.")
    var title: String = "MSCN run report"
    @Option(help: "The run's params.json (runner format or a flat JSON object).")
    var params: String?
    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter to list (repeatable).", valueName: "key=value"))
    var paramPairs: [String] = []
    @Option(name: .customLong("dev-metrics"), parsing: .upToNextOption, help: "Dev metrics.json of every round, in round order.")
    var devMetrics: [String] = []
    @Option(help: "best.json from mscn select-best.")
    var best: String?
    @Option(name: .customLong("test-metrics"), help: "Test metrics.json of the best round.")
    var testMetrics: String?
    @Option(name: .customLong("purify-a"), parsing: .upToNextOption, help: "Purification report.json of net A, every round.")
    var purifyA: [String] = []
    @Option(name: .customLong("purify-b"), parsing: .upToNextOption, help: "Purification report.json of net B, every round.")
    var purifyB: [String] = []
    @Option(name: .customLong("masks-a"), parsing: .upToNextOption, help: "mask.tzst of net A, every round (with 'score').")
    var masksA: [String] = []
    @Option(name: .customLong("masks-b"), parsing: .upToNextOption, help: "mask.tzst of net B, every round (with 'score').")
    var masksB: [String] = []
    @Option(help: "noise.tzst: clean labels that colour the score histograms.")
    var noise: String?
    @Option(help: "meta.tzst: its train_keep aligns the clean labels with the scored captions when they differ in count.")
    var meta: String?
    @Option(parsing: .upToNextOption, help: "Warm-up regime checks (regime.json of mscn-train --mode regime, or --mode warmup --regime), net A first.")
    var regime: [String] = []
    @Option(name: .customLong("train-logs-a"), parsing: .upToNextOption, help: "log.tsv of net A: warm-up, then every round.")
    var trainLogsA: [String] = []
    @Option(name: .customLong("train-logs-b"), parsing: .upToNextOption, help: "log.tsv of net B: warm-up, then every round.")
    var trainLogsB: [String] = []
    @Option(name: .customLong("examples-scores"), help: "Test score matrix (scores f32 [N_images, M_captions]).")
    var examplesScores: String?
    @Option(name: .customLong("examples-corpus"), help: "corpus.tzst holding the test split.")
    var examplesCorpus: String?
    @Option(name: .customLong("examples-images"), help: "images-test.tzst (pixels u8 [N,H,W,3]) for thumbnails.")
    var examplesImages: String?
    @Option(help: "vocab.json to turn token ids into words.")
    var vocab: String?
    @Option(help: "How many retrieval examples to show.")
    var examples: Int = 4

    func validate() throws {
        if out == nil && !summary { throw ValidationError("say where the report goes (--out FILE) or ask for --summary, or both") }
        if examples < 0 || examples > 100 { throw ValidationError("--examples must be 0 to 100 (each adds a row of thumbnails to the page)") }
        for p in paramPairs where !p.contains("=") || p.hasPrefix("=") {
            throw ValidationError("--param expects key=value, got '\(p)'")
        }
        if !masksA.isEmpty && masksA.count != purifyA.count {
            throw ValidationError("--masks-a (\(masksA.count)) needs one --purify-a per mask (\(purifyA.count))")
        }
        if !masksB.isEmpty && masksB.count != purifyB.count {
            throw ValidationError("--masks-b (\(masksB.count)) needs one --purify-b per mask (\(purifyB.count))")
        }
    }

    func run() throws {
        Stage.run("mscn report") {
            var i = RunReportInputs()
            i.title = title
            i.params = params
            for p in paramPairs {
                let eq = p.firstIndex(of: "=") ?? p.endIndex
                i.paramValues[String(p[..<eq])] = String(p[p.index(after: eq)...])
            }
            i.devMetrics = devMetrics
            i.best = best
            i.testMetrics = testMetrics
            i.purifyA = purifyA
            i.purifyB = purifyB
            i.masksA = masksA
            i.masksB = masksB
            i.noise = noise
            i.meta = meta
            i.regime = regime
            i.trainLogsA = trainLogsA
            i.trainLogsB = trainLogsB
            i.examplesScores = examplesScores
            i.examplesCorpus = examplesCorpus
            i.examplesImages = examplesImages
            i.vocab = vocab
            i.exampleCount = examples
            if let runFolder { try i.fill(fromRunFolder: runFolder) }
            if let out {
                try RunReport.write(i, to: out)
                Stage.note("wrote \(out)")
            }
            if summary { print(try RunSummaryText.render(i), terminator: "") }
        }
    }
}
