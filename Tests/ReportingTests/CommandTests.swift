import Foundation
import Retrieval
import TestSupport
import XCTest

/// The `mscn report/runs/diff/sweep` executables end to end, on a fake pipeline whose one
/// "training" stage writes metrics from a formula in the noise ratio and seed.
final class CommandTests: XCTestCase {
    static func formula(_ method: String, _ noise: Double, _ seed: Int) -> Double {
        (method == "MSCN" ? 70 : 60) - 30 * noise + 2 * Double(seed)
    }

    func pipeline(_ dir: URL, name: String, offset: Int) throws -> String {
        let script = dir.appendingPathComponent("\(name).sh").path
        // r1 = offset - 30·noise + 2·seed; other recalls follow from it.
        try """
        awk -v n="$1" -v s="$2" 'BEGIN { r = \(offset) - 30*n + 2*s; printf "{\\"i2t_r1\\": %.4f, \\"i2t_r5\\": %.4f, \\"i2t_r10\\": %.4f, \\"i2t_medr\\": 2, \\"i2t_meanr\\": 4.5, \\"t2i_r1\\": %.4f, \\"t2i_r5\\": %.4f, \\"t2i_r10\\": %.4f, \\"t2i_medr\\": 3, \\"t2i_meanr\\": 6.5, \\"rsum\\": %.4f}", r, r+10, r+20, r-5, r+5, r+15, 6*r+45 }' > "$3"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let yaml = """
        name: \(name)
        params:
          noise: 0.2
          seed: 0
        stages:
          score:
            command: sh \(script) ${noise} ${seed} ${out.metrics}
            outputs: {metrics: file}
          report:
            command: mscn report --test-metrics ${score.metrics} --param noise=${noise} --param seed=${seed} --out ${out.html}
            outputs: {html: file}
        publish:
          metrics.json: "${score.metrics}"
          report.html: "${report.html}"

        """
        let path = dir.appendingPathComponent("\(name).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSweepRunsEveryCombinationAndTabulatesMeanAndStd() throws {
        let dir = TestPaths.temporaryDirectory("sweep-cli")
        let mscn = try pipeline(dir, name: "MSCN", offset: 70), base = try pipeline(dir, name: "base", offset: 60)
        let data = dir.appendingPathComponent("Data").path, out = dir.appendingPathComponent("sweep").path
        let r = try runProduct("mscn", ["sweep", mscn, "--grid", "noise=0.2 0.6", "--grid", "seed=0,1,2", "--baseline", base,
                                        "--cache", data, "--out", out, "-j", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 3)
        let h = rows[0]
        for (row, noise) in zip(rows.dropFirst(), [0.2, 0.6]) {
            for method in ["MSCN", "baseline"] {
                let xs = (0...2).map { Self.formula(method, noise, $0) }
                let mean = xs.reduce(0, +) / 3
                let std = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
                let mi = try XCTUnwrap(h.firstIndex(of: "\(method)_i2t_r1_mean"))
                XCTAssertEqual(try XCTUnwrap(Double(row[mi])), mean, accuracy: 1e-3)
                XCTAssertEqual(try XCTUnwrap(Double(row[mi + 1])), std, accuracy: 1e-3)
                let ri = try XCTUnwrap(h.firstIndex(of: "\(method)_rsum_mean"))
                XCTAssertEqual(try XCTUnwrap(Double(row[ri])), 6 * mean + 45, accuracy: 1e-3)
            }
        }
        XCTAssertTrue(r.stdout.contains("MSCN"), r.stdout)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("data-figure=\"sweep-rsum\""))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/results.md"))
        // Every run got its published report through the pipeline's report stage.
        let runs = try FileManager.default.contentsOfDirectory(atPath: data + "/runs").filter { $0 != "latest" }
        XCTAssertEqual(runs.count, 12)
        for run in runs { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(data)/runs/\(run)/report.html"), run) }
        if let keep = ProcessInfo.processInfo.environment["MSCN_KEEP_SWEEP"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: out + "/report.html", toPath: keep)
        }

        // A second sweep over a sub-grid reuses every run from the cache.
        let again = try runProduct("mscn", ["sweep", mscn, "--grid", "noise=0.2", "--grid", "seed=0,1", "--no-baseline",
                                            "--cache", data, "--out", dir.appendingPathComponent("sweep2").path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("  start "), again.stderr)
        XCTAssertTrue(again.stderr.contains("  cached  score"), again.stderr)

        // mscn runs: one row per run, noise and seed columns; mscn diff between two of them.
        let list = try runProduct("mscn", ["runs", "--cache", data, "--tsv"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 13)
        XCTAssertTrue(lines[0].hasPrefix("run\tnoise\tseed\t"), String(lines[0]))
        let names = runs.filter { $0.hasPrefix("MSCN-") }.sorted()
        let diff = try runProduct("mscn", ["diff", names[0], names[1], "--cache", data])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("parameters (1 of 2 differ):"), diff.stdout)
        XCTAssertTrue(diff.stdout.contains("stage outputs differ in 2 of 2 stages"), diff.stdout)
    }

    /// `mscn report --run FOLDER --summary` prints a finished run in a few lines, and writes nothing.
    func testSummaryOfARunFolder() throws {
        let dir = TestPaths.temporaryDirectory("summary-cli")
        let yaml = try pipeline(dir, name: "MSCN", offset: 70)
        let data = dir.appendingPathComponent("Data").path
        let run = try runProduct("mscn", ["run", yaml, "--set", "noise=0.5", "--set", "seed=1", "--cache", data])
        XCTAssertEqual(run.status, 0, run.stderr)
        let r = try runProduct("mscn", ["report", "--run", data + "/runs/latest", "--summary"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rsum = 6 * Self.formula("MSCN", 0.5, 1) + 45, r1 = Self.formula("MSCN", 0.5, 1)
        XCTAssertEqual(r.stdout, "noise 0.5, seed 1\n" + String(format: "test rSum %.2f (i2t R@1 %.1f, t2i R@1 %.1f)\n", rsum, r1, r1 - 5))
        let neither = try runProduct("mscn", ["report", "--run", data + "/runs/latest"])
        XCTAssertEqual(neither.status, 64)
        XCTAssertTrue(neither.stderr.contains("--out FILE") && neither.stderr.contains("--summary"), neither.stderr)
    }

    func testBadInvocationsFailWithOneLine() throws {
        let dir = TestPaths.temporaryDirectory("report-cli")
        let r = try runProduct("mscn", ["report", "--test-metrics", dir.appendingPathComponent("missing.json").path,
                                        "--out", dir.appendingPathComponent("r.html").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasSuffix("missing.json: no such file\n"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("r.html").path))

        let sweep = try runProduct("mscn", ["sweep", "p.yaml", "--grid", "noise=0.2", "--set", "noise=0.5"])
        XCTAssertNotEqual(sweep.status, 0)
        XCTAssertTrue(sweep.stderr.contains("both swept"), sweep.stderr)
        // A swept name the pipeline does not declare would run the defaults under two labels.
        let mscnYAML = try pipeline(dir, name: "MSCN", offset: 70)
        let typo = try runProduct("mscn", ["sweep", mscnYAML, "--grid", "nosie=0.2,0.5", "--no-baseline", "--cache", dir.path])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stderr.contains("'nosie' is not a parameter of"), typo.stderr)
        let replicate = try runProduct("mscn", ["sweep", mscnYAML, "--grid", "noise=0.2", "--replicate", "seeds", "--no-baseline"])
        XCTAssertEqual(replicate.status, 64)
        XCTAssertTrue(replicate.stderr.contains("--replicate seeds is not a --grid axis"), replicate.stderr)
        let diff = try runProduct("mscn", ["diff", "nope", "latest", "--cache", dir.path])
        XCTAssertEqual(diff.status, 1)
        XCTAssertTrue(diff.stderr.contains("runs/nope: no such run folder"), diff.stderr)
    }
}
