import Foundation
import Purification
import Retrieval
import TensorFile

/// The HTML report of one run: summary, dev rSum per round, loss curves, purification quality,
/// score histograms with the fitted Betas, retrieval examples.
public enum RunReport {
    public static func render(_ inputs: RunReportInputs) throws -> String {
        let figures = try RunFigures(inputs)
        let (params, dev, best, test, regime) = (figures.params, figures.dev, figures.best, figures.test, figures.regime)
        let (purA, purB) = (figures.purificationA, figures.purificationB)

        var subtitle = params?.pipeline.map { "pipeline \($0)" } ?? ""
        if let p = params {
            // The parameters a reader tells runs apart by, plus whatever was set for this run.
            let keys = Set(["data", "noise", "seed", "epochs"]).union(p.overridden).filter { p.values[$0] != nil }.sorted()
            if !keys.isEmpty {
                subtitle += (subtitle.isEmpty ? "" : "; ") + keys.map { "\($0)=\(p.values[$0] ?? "")" }.joined(separator: ", ")
            }
        }
        var page = HTMLPage(title: inputs.title, subtitle: subtitle.isEmpty ? nil : subtitle)
        page.section("summary", "Summary", summary(params: params, test: test, best: best, dev: dev) + regimeNote(regime))
        page.section("dev", "Dev rSum per round", devSection(dev, best: best))
        page.section("loss", "Training and meta loss", try lossSection(inputs))
        page.section("purification", "Purification precision and recall", purificationSection(purA, purB))
        page.section("histograms", "Training scores and fitted Beta mixtures", try histogramSection(inputs, purA, purB))
        page.section("examples", "Retrieval examples (test split)", try RetrievalExamples.section(inputs))
        return page.render()
    }

    /// Renders and writes atomically.
    public static func write(_ inputs: RunReportInputs, to path: String) throws {
        try InputFile.writeAtomically(try render(inputs), to: path)
    }

    static func summary(params: RunParameters?, test: RetrievalMetrics?, best: BestRound?, dev: [RetrievalMetrics]) -> String {
        var o = ""
        if let test {
            o += "<h3>Test metrics\(best.map { " (best round \($0.bestRound) by dev rSum)" } ?? "")</h3>"
            o += metricsTable([("test", test)], id: "test-metrics")
            o += "<p class=\"note\">R@K in percent; medr and meanr are ranks (1 = best); rSum is the sum of the six R@K.</p>"
        } else {
            o += HTMLPage.missing("test metrics (no --test-metrics given).")
        }
        if let best {
            let which = best.bestRound == 0 ? "0 (the warm-up pair)" : String(best.bestRound)
            o += "<p>Best round: <b>\(which)</b> of rounds \(best.firstRound)–\(best.firstRound + best.rsumPerRound.count - 1), dev rSum <b>\(Fmt.f(best.bestRsum))</b>.</p>"
        }
        if let params {
            o += "<h3>Parameters</h3>"
            let rows = params.values.keys.sorted().map { k -> [String] in
                let v = escapeXML(params.values[k] ?? "")
                return [escapeXML(k), params.overridden.contains(k) ? "<b>\(v)</b> (set)" : v]
            }
            o += HTMLPage.table(["parameter", "value"], rows, id: "params", numericFrom: 99)
        } else {
            o += HTMLPage.missing("parameters (no --params or --param given).")
        }
        return o
    }

    /// The warm-up regime check: purification can only work when the warm-up already ranks clean
    /// training pairs above noisy ones.
    static func regimeNote(_ checks: [WarmupCheck]) -> String {
        guard !checks.isEmpty else { return "" }
        let withMeta = checks.contains { $0.metaAUC != nil }
        let rows = checks.map { c -> [String] in
            [escapeXML(c.net), c.auc.map { Fmt.f($0, 3) } ?? "n/a (no noisy pairs)", String(c.captions), String(c.cleanCaptions)]
                + (withMeta ? [c.metaAUC.map { Fmt.f($0, 3) } ?? "-"] : [])
        }
        return "<h3>Warm-up regime check</h3>"
            + HTMLPage.table(["net", "clean-vs-noisy AUC", "training pairs", "clean"] + (withMeta ? ["meta AUC"] : []),
                             rows, id: "regime", numericFrom: 1)
            + "<p class=\"note\">AUC of the warm-up net's eval-mode scores of every training caption with its noisy image, "
            + "clean labels from the noise map: 0.5 is chance. Purification fits its Betas to these scores, so a low AUC "
            + "means the rounds start from near-random masks."
            + (withMeta ? " The meta AUC is the same measure on the meta set (its clean pairs against the negatives drawn "
                + "for round 1), which needs no labels of the training pairs.</p>" : "</p>")
    }

    static func metricsTable(_ rows: [(String, RetrievalMetrics)], id: String, highlight: Int? = nil) -> String {
        let keys = ["i2t_r1", "i2t_r5", "i2t_r10", "i2t_medr", "i2t_meanr", "t2i_r1", "t2i_r5", "t2i_r10", "t2i_medr", "t2i_meanr", "rsum"]
        let header = [""] + keys.map { escapeXML(RetrievalMetrics.displayNames[$0] ?? $0) }
        var t = HTMLPage.table(header, rows.map { r in
            let d = Dictionary(uniqueKeysWithValues: r.1.named.map { ($0.key, $0.value) })
            return [escapeXML(r.0)] + keys.map { Fmt.f(d[$0] ?? .nan) }
        }, id: id)
        if let h = highlight {
            // Mark the best row without a script: rewrite its opening tag.
            var lines = t.components(separatedBy: "\n")
            let first = lines.firstIndex { $0.hasPrefix("<tr><td>") } ?? 0
            if first + h < lines.count { lines[first + h] = lines[first + h].replacingOccurrences(of: "<tr>", with: "<tr class=\"best\">") }
            t = lines.joined(separator: "\n")
        }
        return t
    }

    static func roundTicks(_ n: Int, first: Int = 1) -> [(Double, String)] {
        let step = max(1, Int(LinearScale.niceStep(Double(max(n, 1)), 10).rounded(.up)))
        return stride(from: first, through: max(n, 1) + first - 1, by: step).map { (Double($0), String($0)) }
    }

    static func devSection(_ dev: [RetrievalMetrics], best: BestRound?) -> String {
        guard !dev.isEmpty else { return HTMLPage.missing("dev metrics (no --dev-metrics given).") }
        let first = best?.firstRound ?? 1
        var chart = Chart(id: "dev-rsum", title: "Dev rSum per round (A+B ensemble)", xLabel: "round", yLabel: "rSum (sum of six R@K, %)",
                          series: [Series(label: "dev rSum", color: Palette.blue,
                                          points: dev.enumerated().map { (Double($0.offset + first), $0.element.rsum) }, marker: .circle)])
        chart.series[0].valueLabels = dev.count <= 12
        chart.xTicks = roundTicks(dev.count, first: first)
        if let b = best, b.bestRound >= first, b.bestRound < dev.count + first {
            chart.rules = [VerticalRule(x: Double(b.bestRound), label: "best round", labelAtBottom: true)]
        }
        let caption = "One point per round\(first == 0 ? " (round 0: the warm-up pair)" : ""); hover a point for its value."
            + (best.map { " Dashed line: best round \($0.bestRound)." } ?? "")
        var o = HTMLPage.figure(chart.svg(), caption: caption)
        o += "<details\(dev.count <= 10 ? " open" : "")><summary>Dev metrics of every round (R@K in %, ranks 1-based)</summary>"
        o += metricsTable(dev.enumerated().map { ($0.offset + first == 0 ? "warm-up (round 0)" : "round \($0.offset + first)", $0.element) },
                          id: "dev-metrics", highlight: best.map { $0.bestRound - first })
        o += "</details>"
        return o
    }

    static func lossSection(_ inputs: RunReportInputs) throws -> String {
        guard !inputs.trainLogsA.isEmpty || !inputs.trainLogsB.isEmpty else {
            return HTMLPage.missing("loss curves (no --train-logs-a / --train-logs-b given).")
        }
        let a = LossCurve(try inputs.trainLogsA.map(TrainingLog.load))
        let b = LossCurve(try inputs.trainLogsB.map(TrainingLog.load))
        let rules = a.starts.enumerated().map { VerticalRule(x: $0.element, label: $0.offset == 0 ? "warm-up" : "r\($0.offset)") }
        func chart(_ id: String, _ title: String, _ y: String, _ pa: [(x: Double, y: Double?)], _ pb: [(x: Double, y: Double?)]) -> Chart {
            var c = Chart(id: id, title: title, xLabel: "training step (stages of each net laid end to end)", yLabel: y, series: [
                Series(label: "net A", color: Palette.blue, points: pa, lineWidth: 1.6),
                Series(label: "net B", color: Palette.vermillion, points: pb, dash: "5 3", lineWidth: 1.6),
            ].filter { !$0.points.isEmpty })
            c.rules = rules
            c.width = 540
            return c
        }
        var o = HTMLPage.figure(chart("loss", "Training loss", "loss (bin mean)", a.loss, b.loss).svg(),
                                caption: "Steps averaged in bins of equal size. Dashed grey lines: start of net A's warm-up and rounds.")
        let hasMeta = (a.metaLoss + b.metaLoss).contains { $0.y != nil }
        if hasMeta {
            o += HTMLPage.figure(chart("meta-loss", "Meta loss", "meta BCE loss (bin mean)", a.metaLoss, b.metaLoss).svg(),
                                 caption: "Empty during warm-up (no meta step there).")
        } else {
            o += HTMLPage.missing("meta loss (the logs have no meta_loss values).")
        }
        return o
    }

    static func purificationSection(_ a: [RoundPurification], _ b: [RoundPurification]) -> String {
        guard !a.isEmpty || !b.isEmpty else { return HTMLPage.missing("purification quality (no --purify-a / --purify-b given).") }
        let all = (a + b).sorted { ($0.round, $0.net) < ($1.round, $1.net) }
        var o = ""
        let labelled = all.contains { $0.report.precision != nil || $0.report.recall != nil }
        if labelled {
            func pts(_ l: [RoundPurification], _ f: (PurificationReport) -> Double?) -> [(x: Double, y: Double?)] {
                l.sorted { $0.round < $1.round }.map { (Double($0.round), f($0.report).map { $0 * 100 }) }
            }
            var c = Chart(id: "purification", title: "Purification quality per round", xLabel: "round", yLabel: "percent of captions", series: [
                Series(label: "precision A", color: Palette.blue, points: pts(a, \.precision), marker: .circle),
                Series(label: "recall A", color: Palette.blue, points: pts(a, \.recall), dash: "6 3", marker: .square),
                Series(label: "precision B", color: Palette.vermillion, points: pts(b, \.precision), marker: .triangle),
                Series(label: "recall B", color: Palette.vermillion, points: pts(b, \.recall), dash: "6 3", marker: .square),
            ].filter { !$0.points.isEmpty })
            let rounds = Set(all.map(\.round)).sorted()
            c.xTicks = roundTicks(rounds.last ?? 1).filter { t in rounds.contains(Int(t.0)) || rounds.count > 10 }
            let d = LinearScale.niceDomain(c.series.flatMap { $0.points.compactMap(\.y) } + [100])
            // Headroom above 100 % so lines at 100 do not hide in the frame.
            c.yDomain = (d.lo, d.hi + (d.hi - d.lo) * 0.04)
            o += HTMLPage.figure(c.svg(), caption: "Precision: kept captions that are clean. Recall: clean captions that were kept. Against the synthetic-noise labels.")
        } else {
            o += HTMLPage.missing("precision/recall (the reports carry no clean labels, e.g. real noise).")
        }
        func pct(_ v: Double?) -> String { v.map { Fmt.f($0 * 100) } ?? "–" }
        let rows = all.map { p -> [String] in
            let r = p.report
            return [String(p.round), p.net, String(r.captions), String(r.kept), pct(r.keptFraction), pct(r.precision), pct(r.recall), pct(r.accuracy),
                    String(r.iterations.count), Fmt.f(r.final.weights[1], 3),
                    "(\(Fmt.compact(r.final.clean.alpha)), \(Fmt.compact(r.final.clean.beta)))",
                    "(\(Fmt.compact(r.final.noisy.alpha)), \(Fmt.compact(r.final.noisy.beta)))"]
        }
        o += HTMLPage.table(["round", "net", "captions", "kept", "kept %", "precision %", "recall %", "accuracy %", "EM entries",
                             "clean weight", "clean Beta (a, b)", "noisy Beta (a, b)"], rows, id: "purification", numericFrom: 2)
        for p in all {
            for problem in [p.report.collapsed, p.report.emStopped].compactMap({ $0 }) {
                o += HTMLPage.warning("Round \(p.round), net \(p.net): \(problem).")
            }
        }
        return o
    }

    static func histogramSection(_ inputs: RunReportInputs, _ a: [RoundPurification], _ b: [RoundPurification]) throws -> String {
        guard !inputs.masksA.isEmpty || !inputs.masksB.isEmpty else {
            return HTMLPage.missing("score histograms (no --masks-a / --masks-b given).")
        }
        for (masks, reports, net) in [(inputs.masksA, a, "a"), (inputs.masksB, b, "b")] where !masks.isEmpty && masks.count != reports.count {
            throw ReportError("\(masks.count) --masks-\(net) for \(reports.count) --purify-\(net) (they pair up one to one)")
        }
        var panels: [(round: Int, net: String, svg: String)] = []
        var o = ""
        let clean = try inputs.noise.map { try TensorFileReader(path: $0).read("clean").uint8s() }
        let trainKeep = try inputs.meta.map { try TensorFileReader(path: $0).read("train_keep").uint8s() }
        if inputs.noise == nil { o += HTMLPage.missing("clean/noisy colouring (no --noise given); all scores in grey.") }
        if inputs.meta == nil {
            o += HTMLPage.missing("train_keep (no --meta given): mask entries of exactly 0 are taken as the meta set's unscored captions.")
        }
        for (masks, reports) in [(inputs.masksA, a), (inputs.masksB, b)] {
            for (path, rep) in zip(masks, reports) {
                let picked = try ScoredCaptions.select(scores: try MaskScores.load(path), maskPath: path, clean: clean, noisePath: inputs.noise,
                                                       trainKeep: trainKeep, metaPath: inputs.meta, expected: rep.report.captions)
                if picked.scores.count != rep.report.captions {
                    throw ReportError("\(picked.scores.count) scored captions but its report.json counts \(rep.report.captions)", path: path)
                }
                let chart = ScoreHistogram.chart(id: "hist-\(rep.round)-\(rep.net)", title: "Round \(rep.round), net \(rep.net)",
                                                 scores: picked.scores, clean: picked.clean, mixture: rep.report.final)
                panels.append((rep.round, rep.net, chart.svg()))
            }
        }
        panels.sort { ($0.round, $0.net) < ($1.round, $1.net) }
        o += "<p>Bars: share of all training captions per score bin (clean and noisy bars add up to the score density). "
        o += "Curves: the final fitted mixture components, each Beta density times its weight.</p>"
        o += "<div class=\"grid\">" + panels.map { "<figure>\($0.svg)</figure>" }.joined(separator: "\n") + "</div>"
        return o
    }
}
