import Foundation
import Purification
import Reporting
import Retrieval
import TensorFile
import TestSupport
import XCTest

final class RunReportTests: XCTestCase {
    func testDevRsumFigureHasOnePointPerRoundAtTheMetricsValues() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let fig = try XCTUnwrap(Figure(html, id: "dev-rsum"))
        let pts = fig.line("dev rSum")
        XCTAssertEqual(pts.count, run.rounds)
        for (i, p) in pts.enumerated() {
            XCTAssertEqual(p.x, Double(i + 1), accuracy: fig.xResolution * 2)
            XCTAssertEqual(p.y, run.dev[i].rsum, accuracy: fig.yResolution * 2)
        }
        // The best round is marked, and the per-round table holds every dev rSum.
        XCTAssertEqual(fig.root.all("line").filter { $0.attributes["class"] == "rule" }.count, 1)
        let rows = tableCells(html, id: "dev-metrics")
        XCTAssertEqual(rows.count, run.rounds + 1)
        for r in 0..<run.rounds { XCTAssertEqual(Double(rows[r + 1].last ?? ""), (run.dev[r].rsum * 100).rounded() / 100) }
    }

    func testPurificationFigureAndTableEqualTheReports() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let fig = try XCTUnwrap(Figure(html, id: "purification"))
        for net in ["A", "B"] {
            let reports = try XCTUnwrap(run.purify[net])
            let precision = fig.line("precision \(net)"), recall = fig.line("recall \(net)")
            XCTAssertEqual(precision.count, run.rounds)
            XCTAssertEqual(recall.count, run.rounds)
            for r in 0..<run.rounds {
                XCTAssertEqual(precision[r].x, Double(r + 1), accuracy: fig.xResolution * 2)
                XCTAssertEqual(precision[r].y, try XCTUnwrap(reports[r].precision) * 100, accuracy: fig.yResolution * 2)
                XCTAssertEqual(recall[r].y, try XCTUnwrap(reports[r].recall) * 100, accuracy: fig.yResolution * 2)
            }
        }
        let rows = tableCells(html, id: "purification")
        XCTAssertEqual(rows.count, 2 * run.rounds + 1)
        let header = rows[0]
        let pi = try XCTUnwrap(header.firstIndex(of: "precision %")), ri = try XCTUnwrap(header.firstIndex(of: "recall %"))
        let ki = try XCTUnwrap(header.firstIndex(of: "kept"))
        for row in rows.dropFirst() {
            let round = try XCTUnwrap(Int(row[0])), net = row[1]
            let rep = try XCTUnwrap(run.purify[net]?[round - 1])
            XCTAssertEqual(Int(row[ki]), rep.kept)
            XCTAssertEqual(try XCTUnwrap(Double(row[pi])), try XCTUnwrap(rep.precision) * 100, accuracy: 0.005)
            XCTAssertEqual(try XCTUnwrap(Double(row[ri])), try XCTUnwrap(rep.recall) * 100, accuracy: 0.005)
        }
    }

    func testCollapsedPurificationIsNamedUnderTheTable() throws {
        let run = try FakeRun()
        XCTAssertFalse(try RunReport.render(run.inputs).contains("scores every pair alike"), "healthy fits carry no warning")
        let path = run.inputs.purifyB[0]
        var obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        obj["collapsed"] = "this net scores every pair alike"
        try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        XCTAssertTrue(try RunReport.render(run.inputs).contains("Round 1, net B: this net scores every pair alike."))
    }

    func testHistogramsSplitCleanAndNoisyScoresAndOverlayTheFittedBetas() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let nClean = run.clean.filter { $0 != 0 }.count
        for net in ["A", "B"] {
            for r in 1...run.rounds {
                let fig = try XCTUnwrap(Figure(html, id: "hist-\(r)-\(net)"))
                let clean = fig.bars("clean pairs (n=\(nClean))"), noisy = fig.bars("noisy pairs (n=\(run.trainCaptions - nClean))")
                XCTAssertEqual(clean.count, 40)
                XCTAssertEqual(noisy.count, 40)
                // Area under each set of bars = that class's share of the captions.
                let areaClean = clean.reduce(0) { $0 + $1.w * $1.h }, areaNoisy = noisy.reduce(0) { $0 + $1.w * $1.h }
                XCTAssertEqual(areaClean, Double(nClean) / Double(run.trainCaptions), accuracy: 0.01)
                XCTAssertEqual(areaNoisy, Double(run.trainCaptions - nClean) / Double(run.trainCaptions), accuracy: 0.01)
                // Bin by bin: the clean bars count the clean scores in that bin.
                let s = try XCTUnwrap(run.scores[net]?[r - 1])
                for (b, bar) in clean.enumerated() {
                    let count = zip(s, run.clean).filter { sc, c in
                        c != 0 && (Double(sc) >= bar.x - 1e-9 || b == 0) && (Double(sc) < bar.x + bar.w - 1e-9 || b == 39)
                    }.count
                    XCTAssertEqual(bar.h * bar.w * Double(run.trainCaptions), Double(count), accuracy: 0.5)
                }
                // The bars cover every score.
                XCTAssertLessThanOrEqual(clean.first?.x ?? 1, Double(s.min() ?? 0) + fig.xResolution)
                XCTAssertGreaterThanOrEqual((clean.last?.x ?? 0) + (clean.last?.w ?? 0), Double(s.max() ?? 1) - fig.xResolution)
                // The clean curve is the weighted clean Beta density (where it is not cut at the frame).
                let mix = try XCTUnwrap(run.purify[net]?[r - 1]).final
                let label = try XCTUnwrap(fig.legend.first { $0.hasPrefix("clean Beta") })
                let curve = fig.line(label)
                XCTAssertEqual(curve.count, 201)
                for p in curve where p.y < fig.yd.1 - 1e-6 {
                    XCTAssertEqual(p.y, mix.weights[1] * exp(mix.clean.logDensity(p.x)), accuracy: fig.yResolution * 4 + 1e-3)
                }
            }
        }
    }

    func testLossCurvesCoverEveryStepAndMetaLossSkipsWarmUp() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let loss = try XCTUnwrap(Figure(html, id: "loss"))
        let a = loss.line("net A")
        XCTAssertEqual(a.count, 4 * 12)   // fewer steps than bins: every step drawn
        XCTAssertEqual(a[0].y, 50, accuracy: loss.yResolution * 2)
        XCTAssertEqual(a[13].y, 50.0 / 14, accuracy: loss.yResolution * 2)
        let b = loss.line("net B")
        XCTAssertEqual(b[0].y, 51, accuracy: loss.yResolution * 2)
        let meta = try XCTUnwrap(Figure(html, id: "meta-loss"))
        let ma = meta.line("net A")
        XCTAssertEqual(ma.count, 3 * 12)
        XCTAssertEqual(ma[0].x, 13, accuracy: meta.xResolution * 2)
        XCTAssertEqual(ma[0].y, 0.69, accuracy: meta.yResolution * 2)
        XCTAssertEqual(loss.root.all("line").filter { $0.attributes["class"] == "rule" }.count, 4)
    }

    func testSummaryListsTestMetricsAndParameters() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let rows = tableCells(html, id: "test-metrics")
        XCTAssertEqual(rows.count, 2)
        let values = rows[1].dropFirst().compactMap(Double.init)
        XCTAssertEqual(values, run.test.named.map { ($0.value * 100).rounded() / 100 })
        let params = tableCells(html, id: "params")
        XCTAssertEqual(params.dropFirst().map { $0[0] }, ["epochs", "noise", "seed"])
        XCTAssertTrue(params[2][1].contains("0.5"))
        XCTAssertTrue(html.contains("Best round: <b>2</b> of rounds 1–3"), "rounds counted from 1 in a note without first_round")
    }

    func testRetrievalExamplesMarkTheCorrectImage() throws {
        let run = try FakeRun()
        let html = try RunReport.render(run.inputs)
        let m = run.testImages * run.perImage
        let qs = RetrievalExamples.queries(scores: run.testScores, images: run.testImages, captions: m, perImage: run.perImage, count: 4)
        XCTAssertEqual(qs.map(\.caption), [0, 7, 15, 22])
        for q in qs {
            // Rank by brute force: images scoring above the right one, plus one.
            let right = run.testScores[q.correctImage * m + q.caption]
            let above = (0..<run.testImages).filter { run.testScores[$0 * m + q.caption] > right }.count
            XCTAssertEqual(q.rank, above + 1)
            XCTAssertTrue(html.contains("data-caption=\"\(q.caption)\" data-rank=\"\(q.rank)\""))
            XCTAssertEqual(q.top.count, 5)
        }
        XCTAssertEqual(qs[0].rank, 4)   // caption 0 is one of the deliberately missed ones (score 0.3)
        XCTAssertEqual(qs[1].rank, 1)
        XCTAssertTrue(html.contains("“<b>a green circle on grass</b>”"))
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/jpeg;base64,").count - 1, 4 * 5)
        XCTAssertEqual(html.components(separatedBy: "class=\"thumb correct\"").count - 1, qs.filter { $0.rank <= 5 }.count)
        // No network and no script: a self-contained page.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        XCTAssertFalse(html.contains("https://"))
    }

    func testMissingInputsAreNamedInsteadOfFailing() throws {
        var i = RunReportInputs()
        i.title = "empty"
        let html = try RunReport.render(i)
        for what in ["test metrics (no --test-metrics given)", "dev metrics (no --dev-metrics given)",
                     "loss curves (no --train-logs-a / --train-logs-b given)", "purification quality",
                     "score histograms (no --masks-a / --masks-b given)", "retrieval examples (missing --examples-scores, --examples-corpus, --vocab)"] {
            XCTAssertTrue(html.contains(what), what)
        }
        // Without clean labels the histogram is one grey set of bars, still with the Betas.
        let run = try FakeRun()
        var partial = run.inputs
        partial.noise = nil
        partial.examplesImages = nil
        let h = try RunReport.render(partial)
        let fig = try XCTUnwrap(Figure(h, id: "hist-1-A"))
        XCTAssertEqual(fig.bars("all pairs (n=\(run.trainCaptions))").count, 40)
        XCTAssertTrue(h.contains("thumbnails (no --examples-images given)"))
        // Without meta.tzst the unscored entries (exactly 0) are recognised by the report's count.
        partial.meta = nil
        let h2 = try RunReport.render(partial)
        XCTAssertEqual(try XCTUnwrap(Figure(h2, id: "hist-2-B")).bars("all pairs (n=\(run.trainCaptions))").count, 40)
        XCTAssertTrue(h2.contains("no --meta given"))
    }

    func testBadInputsNameTheFile() throws {
        let run = try FakeRun()
        func expectError(_ edit: (inout RunReportInputs) throws -> Void, mentions: String, _ line: UInt = #line) throws {
            var i = run.inputs
            try edit(&i)
            XCTAssertThrowsError(try RunReport.render(i), line: line) { e in
                XCTAssertTrue("\(e)".contains(mentions), "\(e)", line: line)
            }
        }
        let bad = run.path("bad.json")
        try "{\"rsum\": ".write(toFile: bad, atomically: true, encoding: .utf8)
        try expectError({ $0.devMetrics[1] = bad }, mentions: "bad.json: not a metrics file")
        try expectError({ $0.testMetrics = run.path("nope.json") }, mentions: "nope.json: no such file")
        try expectError({ $0.purifyA = [run.inputs.purifyB[0]] + run.inputs.purifyA.dropFirst() }, mentions: "net B")
        try expectError({ $0.masksA.removeLast() }, mentions: "--masks-a")
        let log = run.path("bad.tsv")
        try "step\tepoch\tloss\tmeta_loss\tlr\n1\t0\tx\t\t0.1\n".write(toFile: log, atomically: true, encoding: .utf8)
        try expectError({ $0.trainLogsB[0] = log }, mentions: "bad.tsv: line 2")
        let truncated = run.path("trunc.tzst")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: run.inputs.masksA[0]))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        try expectError({ $0.masksA[0] = truncated }, mentions: "trunc.tzst")
        let noScore = run.path("noscore.tzst")
        try TensorFiles.write(noScore, [StoredTensor(name: "keep", shape: [1], uint8s: [1])])
        try expectError({ $0.masksB[2] = noScore }, mentions: "noscore.tzst: mask file has no 'score' tensor")
        let shortNoise = run.path("short-noise.tzst")
        try TensorFiles.write(shortNoise, [StoredTensor(name: "clean", shape: [3], uint8s: [1, 0, 1])])
        try expectError({ $0.noise = shortNoise }, mentions: "meta.tzst: train_keep has 210 entries, noise.tzst has 3")
        try expectError({ $0.noise = shortNoise; $0.meta = nil }, mentions: "short-noise.tzst: 3 clean labels")
    }

    func testScoredCaptionsAreThoseTheMetaSetLeftInTraining() throws {
        let run = try FakeRun()
        let full = try TensorFileReader(path: try XCTUnwrap(run.inputs.noise)).read("clean").uint8s()
        let mask = try MaskScores.load(run.inputs.masksA[0])
        XCTAssertEqual(mask.count, 210)
        // Full-length masks: the 10 meta captions (score 0) drop out.
        let picked = try ScoredCaptions.select(scores: mask, maskPath: "m", clean: full, noisePath: "n", trainKeep: run.trainKeep, metaPath: "t")
        XCTAssertEqual(picked.scores, run.scores["A"]?[0])
        XCTAssertEqual(picked.clean, run.clean)
        // Masks over the kept captions only.
        let compact = try ScoredCaptions.select(scores: picked.scores, maskPath: "m", clean: full, noisePath: "n", trainKeep: run.trainKeep, metaPath: "t")
        XCTAssertEqual(compact.clean, run.clean)
        // Without train_keep the counts must agree.
        XCTAssertThrowsError(try ScoredCaptions.select(scores: picked.scores, maskPath: "m", clean: full, noisePath: "n", trainKeep: nil, metaPath: nil)) { e in
            XCTAssertTrue("\(e)".contains("n: 210 clean labels but the masks score 200 captions (give --meta"), "\(e)")
        }
        XCTAssertThrowsError(try ScoredCaptions.select(scores: Array(mask.prefix(150)), maskPath: "m", clean: full, noisePath: "n",
                                                       trainKeep: run.trainKeep, metaPath: "t")) { e in
            XCTAssertTrue("\(e)".contains("m: 150 scores fit neither"), "\(e)")
        }
        // The report's histograms count 200 captions, not 210.
        let html = try RunReport.render(run.inputs)
        let fig = try XCTUnwrap(Figure(html, id: "hist-1-A"))
        XCTAssertEqual(fig.legend.first, "clean pairs (n=\(run.clean.filter { $0 != 0 }.count))")
        XCTAssertEqual(fig.legend.dropFirst().first, "noisy pairs (n=\(run.clean.filter { $0 == 0 }.count))")
    }

    func testSameInputsGiveTheSameBytes() throws {
        let run = try FakeRun()
        let out1 = run.path("r1.html"), out2 = run.path("r2.html")
        try RunReport.write(run.inputs, to: out1)
        try RunReport.write(run.inputs, to: out2)
        let a = try Data(contentsOf: URL(fileURLWithPath: out1)), b = try Data(contentsOf: URL(fileURLWithPath: out2))
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(a.count, 10_000)
        if let keep = ProcessInfo.processInfo.environment["MSCN_KEEP_REPORT"] {
            try a.write(to: URL(fileURLWithPath: keep))
        }
    }

    func testTrainingLogParsing() throws {
        let log = try TrainingLog.parse("step\tepoch\tloss\tmeta_loss\tlr\r\n1\t0\t2.5\t\t0.1\r\n2\t0\t2.0\t0.7\t0.1\r\n", path: "x.tsv")
        XCTAssertEqual(log.loss, [2.5, 2.0])
        XCTAssertEqual(log.metaLoss, [nil, 0.7])
        XCTAssertThrowsError(try TrainingLog.parse("", path: "e.tsv")) { XCTAssertTrue("\($0)".contains("e.tsv: empty")) }
        XCTAssertThrowsError(try TrainingLog.parse("step\tloss\n", path: "h.tsv")) { XCTAssertTrue("\($0)".contains("no 'epoch' column")) }
        XCTAssertThrowsError(try TrainingLog.parse("step\tepoch\tloss\tmeta_loss\tlr\n1\t0\t1\n", path: "f.tsv")) {
            XCTAssertTrue("\($0)".contains("line 2 has 3 fields"))
        }
    }
}

final class RunFolderInputsTests: XCTestCase {
    /// A run folder laid out like the runner's (stage/output links) gives the same report as the
    /// explicit flags.
    func testRunFolderFillsTheSameInputsAsTheFlags() throws {
        let run = try FakeRun()
        let folder = run.dir.appendingPathComponent("runs/fake").path
        let fm = FileManager.default
        func link(_ rel: String, _ target: String?) throws {
            guard let target else { return }
            let p = folder + "/" + rel
            try fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: p, withDestinationPath: target)
        }
        let i = run.inputs
        try link("params.json", i.params)
        // Round 10 sorts after round 9 even though "evaluate_dev@10" < "evaluate_dev@9" as text.
        for (r, p) in i.devMetrics.enumerated() { try link("evaluate_dev@\(r + 8)/metrics", p) }
        try link("select/best", i.best)
        try link("evaluate_test/metrics", i.testMetrics)
        try link("evaluate_test/scores", i.examplesScores)
        for r in 0..<run.rounds {
            try link("purify_a@\(r + 1)/report", i.purifyA[r]); try link("purify_a@\(r + 1)/mask", i.masksA[r])
            try link("purify_b@\(r + 1)/report", i.purifyB[r]); try link("purify_b@\(r + 1)/mask", i.masksB[r])
            try link("train_a@\(r + 1)/log", i.trainLogsA[r + 1]); try link("train_b@\(r + 1)/log", i.trainLogsB[r + 1])
        }
        try link("warmup_a/log", i.trainLogsA[0])
        try link("warmup_b/log", i.trainLogsB[0])
        try link("noise/map", i.noise)
        try link("split/meta", i.meta)
        try link("ingest/data/corpus.tzst", i.examplesCorpus)
        try link("ingest/data/images-test.tzst", i.examplesImages)
        try link("ingest/data/vocab.json", i.vocab)

        var filled = RunReportInputs()
        try filled.fill(fromRunFolder: folder)
        XCTAssertEqual(filled.devMetrics.count, 3)
        XCTAssertTrue(filled.devMetrics[2].hasSuffix("evaluate_dev@10/metrics"))
        XCTAssertEqual(filled.trainLogsA.count, run.rounds + 1)
        XCTAssertTrue(filled.trainLogsA[0].hasSuffix("warmup_a/log"))
        XCTAssertEqual(try RunReport.render(filled), try RunReport.render(run.inputs))

        // Flags given explicitly win over the folder.
        var partial = RunReportInputs()
        partial.testMetrics = i.devMetrics[0]
        try partial.fill(fromRunFolder: folder)
        XCTAssertEqual(partial.testMetrics, i.devMetrics[0])
        // The baseline's rounds are plain_a@N / plain_b@N.
        let base = run.dir.appendingPathComponent("runs/base").path
        try fm.createDirectory(atPath: base + "/plain_a@1", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: base + "/plain_a@1/log", withDestinationPath: i.trainLogsA[1])
        var baseline = RunReportInputs()
        try baseline.fill(fromRunFolder: base)
        XCTAssertEqual(baseline.trainLogsA, [base + "/plain_a@1/log"])
        XCTAssertTrue(baseline.purifyA.isEmpty && baseline.masksA.isEmpty)
        XCTAssertThrowsError(try partial.fill(fromRunFolder: folder + "/nothing")) { XCTAssertTrue("\($0)".contains("no such run folder")) }
    }

    /// Per-round lists are read by position, so a round missing in the middle would move every
    /// later round's figures onto the round before: an error naming the missing round instead.
    func testARoundMissingInTheMiddleIsAnError() throws {
        let run = try FakeRun()
        let folder = run.dir.appendingPathComponent("runs/gap").path
        for r in [1, 2, 4] {
            try FileManager.default.createDirectory(atPath: folder + "/evaluate_dev@\(r)", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: folder + "/evaluate_dev@\(r)/metrics", withDestinationPath: run.inputs.devMetrics[0])
        }
        var inputs = RunReportInputs()
        XCTAssertThrowsError(try inputs.fill(fromRunFolder: folder)) { e in
            XCTAssertTrue("\(e)".contains("evaluate_dev@3 is missing (rounds 1…4 otherwise present)"), "\(e)")
        }
    }
}

/// The warm-up regime check and round 0 (the warm-up pair) in the run report, and the sweep's
/// extra columns.
final class RegimeReportTests: XCTestCase {
    func testReportShowsEachWarmupAUCAndRoundZero() throws {
        var run = try FakeRun()
        let a = run.path("regime-a.json"), b = run.path("regime-b.json")
        try Data(#"{"net":"A","auc":0.9123,"captions":200,"clean_captions":60,"mean_score_clean":0.8,"mean_score_noisy":0.3,"meta_auc":0.9567,"meta_pairs":40}"#.utf8)
            .write(to: URL(fileURLWithPath: a))
        try Data(#"{"net":"B","auc":null,"captions":200,"clean_captions":200,"mean_score_clean":0.8,"mean_score_noisy":null}"#.utf8)
            .write(to: URL(fileURLWithPath: b))
        run.inputs.regime = [a, b]
        // The warm-up pair won the selection: best.json counts rounds from 0.
        let best = run.path("best0.json")
        let sums = run.dev.map(\.rsum)
        try JSONSerialization.data(withJSONObject: ["best_round": 0, "best_rsum": sums[0], "rsum_per_round": sums, "first_round": 0])
            .write(to: URL(fileURLWithPath: best))
        run.inputs.best = best
        let html = try RunReport.render(run.inputs)
        let rows = tableCells(html, id: "regime")
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[1].first, "A")
        XCTAssertEqual(rows[1][1], "0.912")
        XCTAssertTrue(rows[2][1].hasPrefix("n/a"), "\(rows[2])")
        // The label-free meta AUC has its column once a check has it; a check without it shows "-".
        XCTAssertEqual(rows[0].last, "meta AUC")
        XCTAssertEqual(rows[1].last, "0.957")
        XCTAssertEqual(rows[2].last, "-")
        XCTAssertTrue(html.contains("0 (the warm-up pair)"))
        let dev = tableCells(html, id: "dev-metrics")
        XCTAssertEqual(dev[1].first, "warm-up (round 0)")
        XCTAssertEqual(dev[2].first, "round 1")

        var bad = run.inputs
        try Data("{}".utf8).write(to: URL(fileURLWithPath: run.path("regime-bad.json")))
        bad.regime = [run.path("regime-bad.json")]
        XCTAssertThrowsError(try RunReport.render(bad)) { XCTAssertTrue("\($0)".contains("regime-bad.json"), "\($0)") }
    }

    func testSweepTableAveragesAUCAndPurificationOfRunsThatHaveThem() throws {
        let grid = try SweepGrid(parsing: ["noise=0.7", "seed=0,1"])
        let m = FakeRunFolders.metrics(method: "MSCN", noise: 0.7, seed: 0)
        let runs = [
            SweepRun(method: "MSCN", grid: ["noise": "0.7", "seed": "0"], metrics: m, extras: ["auc_a": 0.9, "precision_a": 0.8]),
            SweepRun(method: "MSCN", grid: ["noise": "0.7", "seed": "1"], metrics: m, extras: ["auc_a": 0.8, "precision_a": 0.9]),
            SweepRun(method: "oracle", grid: ["noise": "0.7", "seed": "0"], metrics: m, extras: ["auc_a": 0.7]),
        ]
        let t = SweepTable(grid: grid, replicate: "seed", methods: ["MSCN", "oracle"], runs: runs)
        let mscn = try XCTUnwrap(t.rows.first?.cells["MSCN"])
        XCTAssertEqual(try XCTUnwrap(mscn.mean["auc_a"]), 0.85, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(mscn.std["auc_a"]), (0.005).squareRoot(), accuracy: 1e-12)
        XCTAssertNil(t.rows.first?.cells["oracle"]?.mean["precision_a"])
        let md = t.markdown(title: "t")
        XCTAssertTrue(md.contains("AUC A") && md.contains("prec A") && md.contains("0.850 ± 0.071"), md)
        XCTAssertFalse(md.contains("AUC B"), "columns no run has are left out")
        XCTAssertTrue(t.csv().split(separator: "\n")[0].contains("MSCN_auc_a_mean"))
    }
}
