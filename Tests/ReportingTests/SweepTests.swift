import Foundation
import Reporting
import Retrieval
import TestSupport
import XCTest

/// Fake run folders as the runner leaves them: params.json, published metrics.json and best.json,
/// and per-stage links into the object store.
struct FakeRunFolders {
    let root: URL
    var runs: URL { root.appendingPathComponent("runs") }

    init() {
        root = TestPaths.temporaryDirectory("sweep")
        try? FileManager.default.createDirectory(at: root.appendingPathComponent("runs"), withIntermediateDirectories: true)
    }

    static func metrics(method: String, noise: Double, seed: Int) -> RetrievalMetrics {
        let base = (method == "MSCN" ? 60 : 50) - 40 * noise + Double(seed * seed) * 0.75
        return RetrievalMetrics(i2tR1: base, i2tR5: base + 10 + Double(seed), i2tR10: base + 20, i2tMedianRank: Double(2 + seed),
                                i2tMeanRank: 5.5 + noise, t2iR1: base - 3, t2iR5: base + 7, t2iR10: base + 15 - Double(seed),
                                t2iMedianRank: 3, t2iMeanRank: 8 + Double(seed))
    }

    /// Writes one run; `metrics: nil` leaves out metrics.json (a failed run).
    @discardableResult
    func add(_ name: String, pipeline: String, params: [String: String], overrides: [String: String],
             metrics: RetrievalMetrics?, outputs: [String: String] = [:]) throws -> String {
        let dir = runs.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p: [String: Any] = ["pipeline": pipeline, "params": params, "overrides": overrides]
        try JSONSerialization.data(withJSONObject: p, options: [.sortedKeys]).write(to: dir.appendingPathComponent("params.json"))
        if let metrics {
            try JSONEncoder().encode(metrics).write(to: dir.appendingPathComponent("metrics.json"))
            let best: [String: Any] = ["best_round": 2, "best_rsum": metrics.rsum + 5, "rsum_per_round": [1.0, metrics.rsum + 5]]
            try JSONSerialization.data(withJSONObject: best).write(to: dir.appendingPathComponent("best.json"))
        }
        for (k, digest) in outputs {
            let parts = k.split(separator: "/")
            let stageDir = dir.appendingPathComponent(String(parts[0]))
            try FileManager.default.createDirectory(at: stageDir, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: stageDir.appendingPathComponent(String(parts[1])).path,
                                                       withDestinationPath: "../../../cache/objects/\(digest)/\(parts[1])")
        }
        return dir.path
    }
}

final class SweepTests: XCTestCase {
    let noises = ["0.2", "0.5"], seeds = ["0", "1", "2"]

    /// Builds the folders of a 2×3 sweep for MSCN and baseline (one baseline run failed) and
    /// reads them back as the sweep command does.
    func makeSweep() throws -> (FakeRunFolders, SweepGrid, [SweepRun]) {
        let f = FakeRunFolders()
        let grid = try SweepGrid(parsing: ["noise=" + noises.joined(separator: ","), "seed=" + seeds.joined(separator: " ")])
        var runs: [SweepRun] = []
        for n in noises {
            for s in seeds {
                for method in ["MSCN", "baseline"] {
                    let failed = method == "baseline" && n == "0.5" && s == "2"
                    let m = FakeRunFolders.metrics(method: method, noise: Double(n) ?? 0, seed: Int(s) ?? 0)
                    let folder = try f.add("\(method)-noise\(n)-seed\(s)", pipeline: "Pipelines/\(method).yaml",
                                           params: ["noise": n, "seed": s, "epochs": "3"], overrides: ["noise": n, "seed": s],
                                           metrics: failed ? nil : m)
                    let rec = RunRecord.load(folder)
                    XCTAssertTrue(rec.problems.isEmpty, "\(rec.problems)")
                    let g = try XCTUnwrap(rec.params).values.filter { ["noise", "seed"].contains($0.key) }
                    runs.append(SweepRun(method: method, grid: g, metrics: rec.metrics, folder: folder))
                }
            }
        }
        return (f, grid, runs)
    }

    func testGridParsingAndCombinations() throws {
        let g = try SweepGrid(parsing: ["noise=0.2,0.5 0.7", "seed=0,1"])
        XCTAssertEqual(g.points.map { $0.map(\.value) }, [["0.2", "0"], ["0.2", "1"], ["0.5", "0"], ["0.5", "1"], ["0.7", "0"], ["0.7", "1"]])
        XCTAssertThrowsError(try SweepGrid(parsing: ["noise"]))
        XCTAssertThrowsError(try SweepGrid(parsing: ["noise="]))
        XCTAssertThrowsError(try SweepGrid(parsing: ["noise=0.2,0.2"]))
        XCTAssertThrowsError(try SweepGrid(parsing: ["seed=1", "seed=2"]))
        XCTAssertThrowsError(try SweepGrid(parsing: []))
    }

    func testSweepTableEqualsMeanAndStdOfThePerRunMetrics() throws {
        let (_, grid, runs) = try makeSweep()
        let table = SweepTable(grid: grid, replicate: "seed", methods: ["MSCN", "baseline"], runs: runs)
        let lines = table.csv().split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        XCTAssertEqual(lines.count, 1 + noises.count)
        for (row, n) in zip(lines.dropFirst(), noises) {
            XCTAssertEqual(row[0], n)
            for method in ["MSCN", "baseline"] {
                // Independent recomputation from the metrics files on disk.
                let used = seeds.filter { !(method == "baseline" && n == "0.5" && $0 == "2") }
                let ms = used.map { FakeRunFolders.metrics(method: method, noise: Double(n) ?? 0, seed: Int($0) ?? 0) }
                XCTAssertEqual(row[try XCTUnwrap(header.firstIndex(of: "\(method)_n"))], String(used.count))
                for key in ["i2t_r1", "i2t_r5", "i2t_medr", "t2i_r10", "t2i_meanr", "rsum"] {
                    let xs = ms.map { m in m.named.first { $0.key == key }?.value ?? .nan }
                    let mean = xs.reduce(0, +) / Double(xs.count)
                    let std = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
                    let mi = try XCTUnwrap(header.firstIndex(of: "\(method)_\(key)_mean"))
                    XCTAssertEqual(try XCTUnwrap(Double(row[mi])), mean, accuracy: 1e-4, "\(method) \(n) \(key)")
                    XCTAssertEqual(try XCTUnwrap(Double(row[mi + 1])), std, accuracy: 1e-4, "\(method) \(n) \(key) std")
                }
            }
        }
        // The Markdown table has a row per grid point and method, with the same numbers rounded.
        let md = table.markdown(title: "t")
        let mscn02 = FakeRunFolders.metrics(method: "MSCN", noise: 0.2, seed: 0).rsum
        XCTAssertTrue(md.contains("| 0.2 | MSCN | 3 | "))
        XCTAssertTrue(md.contains("| 0.5 | baseline | 2 | "))
        let rsums = seeds.map { FakeRunFolders.metrics(method: "MSCN", noise: 0.2, seed: Int($0) ?? 0).rsum }
        XCTAssertNotEqual(rsums[0], rsums[2])
        XCTAssertTrue(md.contains(String(format: "%.2f ± ", rsums.reduce(0, +) / 3)), md)
        XCTAssertGreaterThan(mscn02, 0)
    }

    func testSingleReplicateHasNoStdAndNoReplicateAxisKeepsEveryPoint() throws {
        let (_, grid, runs) = try makeSweep()
        let t = SweepTable(grid: grid, replicate: nil, methods: ["MSCN", "baseline"], runs: runs)
        XCTAssertEqual(t.rows.count, noises.count * seeds.count)
        let cell = try XCTUnwrap(t.rows[0].cells["MSCN"])
        XCTAssertEqual(cell.n, 1)
        XCTAssertTrue(cell.std.isEmpty)
        XCTAssertEqual(cell.mean["rsum"], FakeRunFolders.metrics(method: "MSCN", noise: 0.2, seed: 0).rsum)
        XCTAssertEqual(t.rows.last?.cells["baseline"]?.n, 0)   // the failed run
    }

    func testSweepReportPlotsMeansAgainstNoiseWithErrorBars() throws {
        let (f, grid, runs) = try makeSweep()
        let table = SweepTable(grid: grid, replicate: "seed", methods: ["MSCN", "baseline"], runs: runs)
        let html = SweepReport.render(table: table, runs: runs, title: "sweep", reportDirectory: f.root.appendingPathComponent("sweeps/x").path)
        for key in ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "rsum"] {
            let fig = try XCTUnwrap(Figure(html, id: "sweep-\(key)"))
            for method in ["MSCN", "baseline"] {
                let pts = fig.line(method)
                XCTAssertEqual(pts.count, 2)
                for (p, n) in zip(pts, noises) {
                    XCTAssertEqual(p.x, Double(n) ?? 0, accuracy: fig.xResolution * 2)
                    let cell = try XCTUnwrap(table.rows.first { $0.point[0].value == n }?.cells[method])
                    XCTAssertEqual(p.y, try XCTUnwrap(cell.mean[key]), accuracy: fig.yResolution * 2)
                }
            }
            XCTAssertEqual(fig.root.all("path").filter { $0.attributes["class"] == "error" }.count, 4)
        }
        // Run links are relative from the sweep folder; runs without report.html say so.
        XCTAssertTrue(html.contains("MSCN-noise0.2-seed0 (no report)"))
        try "x".write(toFile: f.runs.appendingPathComponent("MSCN-noise0.2-seed1/report.html").path, atomically: true, encoding: .utf8)
        let again = SweepReport.render(table: table, runs: runs, title: "sweep", reportDirectory: f.root.appendingPathComponent("sweeps/x").path)
        XCTAssertTrue(again.contains("href=\"../../runs/MSCN-noise0.2-seed1/report.html\""))
    }

    func testRunsTableShowsDifferingParametersAndHeadlineMetrics() throws {
        let (f, _, _) = try makeSweep()
        let runs = try RunRecord.list(f.runs.path)
        XCTAssertEqual(runs.count, 12)
        let t = RunComparison.table(runs, latest: "MSCN-noise0.5-seed1")
        XCTAssertEqual(t.header.prefix(3), ["run", "noise", "seed"])   // epochs is the same everywhere
        let row = try XCTUnwrap(t.rows.first { $0[0] == "* MSCN-noise0.5-seed1" })
        let m = FakeRunFolders.metrics(method: "MSCN", noise: 0.5, seed: 1)
        XCTAssertEqual(row[1], "0.5")
        XCTAssertEqual(row[3], "2")
        XCTAssertEqual(row[4], String(format: "%.2f", m.rsum))
        XCTAssertEqual(row[5], String(format: "%.2f", m.i2tR1))
        let failed = try XCTUnwrap(t.rows.first { $0[0] == "baseline-noise0.5-seed2" })
        XCTAssertEqual(failed[4], "–")
        XCTAssertTrue(RunComparison.table(runs, allParams: true).header.contains("epochs"))
        XCTAssertThrowsError(try RunRecord.list(f.root.appendingPathComponent("nothing").path))
    }

    func testDiffNamesChangedParametersMetricsAndStages() throws {
        let f = FakeRunFolders()
        let ma = FakeRunFolders.metrics(method: "MSCN", noise: 0.2, seed: 0)
        var mb = ma
        mb.i2tR1 += 1.5
        mb.rsum += 1.5
        let a = try f.add("a", pipeline: "p.yaml", params: ["noise": "0.2", "seed": "0"], overrides: [:], metrics: ma,
                          outputs: ["ingest/data": "d1", "noise/map": "n1", "train_a@2/ckpt": "c1", "train_a@10/ckpt": "c2"])
        let b = try f.add("b", pipeline: "p.yaml", params: ["noise": "0.7", "seed": "0"], overrides: [:], metrics: mb,
                          outputs: ["ingest/data": "d1", "noise/map": "n2", "train_a@2/ckpt": "c3", "train_a@10/ckpt": "c4"])
        let d = RunComparison.diff(RunRecord.load(a), RunRecord.load(b))
        XCTAssertTrue(d.contains("parameters (1 of 2 differ):"), d)
        XCTAssertTrue(d.contains("noise  0.2 → 0.7"), d)
        XCTAssertFalse(d.contains("seed  "), d)
        XCTAssertTrue(d.contains("test metrics (2 of 11 differ):"), d)
        XCTAssertTrue(d.contains(String(format: "i2t R@1     %.2f → %.2f  (+1.50)", ma.i2tR1, mb.i2tR1)), d)
        XCTAssertTrue(d.contains("stage outputs differ in 3 of 4 stages: noise train_a@2 train_a@10"), d)
        let same = RunComparison.diff(RunRecord.load(a), RunRecord.load(a))
        XCTAssertTrue(same.contains("parameters: all 2 equal") && same.contains("test metrics: equal") && same.contains("all 4 stages identical"), same)
    }

    func testUnreadableRunFilesAreReportedNotFatal() throws {
        let f = FakeRunFolders()
        let dir = try f.add("broken", pipeline: "p.yaml", params: ["noise": "0.2"], overrides: [:], metrics: nil)
        try "{\"rsum\": 1".write(toFile: dir + "/metrics.json", atomically: true, encoding: .utf8)
        let r = RunRecord.load(dir)
        XCTAssertNil(r.metrics)
        XCTAssertEqual(r.problems.count, 1)
        XCTAssertTrue(r.problems[0].contains("broken/metrics.json: not a metrics file"), r.problems[0])
    }

    /// The warm-up is one stage per epoch: the run's AUC is the last epoch's regime check, and the
    /// purification columns are the last round's.
    func testRunRecordTakesTheLastWarmupEpochAndTheLastRound() throws {
        let f = FakeRunFolders()
        let dir = try f.add("epochs", pipeline: "p.yaml", params: ["noise": "0.7"], overrides: [:], metrics: nil)
        let fm = FileManager.default
        for (epoch, auc) in [(2, 0.61), (10, 0.98), (9, 0.97)] {
            try fm.createDirectory(atPath: dir + "/warmup_a@\(epoch)", withIntermediateDirectories: true)
            try """
            {"net": "A", "auc": \(auc), "captions": 10, "clean_captions": 3, "mean_score_clean": 0.5, "mean_score_noisy": 0.2}
            """.write(toFile: dir + "/warmup_a@\(epoch)/regime", atomically: true, encoding: .utf8)
        }
        let r = RunRecord.load(dir)
        XCTAssertEqual(try XCTUnwrap(r.extras["auc_a"]), 0.98, accuracy: 1e-12, "\(r.problems)")
        XCTAssertNil(r.extras["auc_b"])

        // Runs made since the check is a stage of its own (regime_a@N) read that stage's, the
        // last epoch's, before the epoch stages'.
        for (epoch, auc) in [(3, 0.71), (10, 0.93)] {
            try fm.createDirectory(atPath: dir + "/regime_a@\(epoch)", withIntermediateDirectories: true)
            try """
            {"net": "A", "auc": \(auc), "captions": 10, "clean_captions": 3, "mean_score_clean": 0.5, "mean_score_noisy": 0.2}
            """.write(toFile: dir + "/regime_a@\(epoch)/regime", atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(try XCTUnwrap(RunRecord.load(dir).extras["auc_a"]), 0.93, accuracy: 1e-12)
    }
}
