import Foundation
import Pipeline

/// Target: re-running a 250-stage pipeline with nothing changed takes < 1 s, including a large
/// external input whose digest must come from the stat cache rather than a re-read.
enum RunnerBench {
    static let noOpRerun = Benchmark(name: "runner-noop-250") {
        do { try measure() } catch { print("runner-noop-250: error: \(error)") }
    }

    static func measure() throws {
        let dir = NSTemporaryDirectory() + "mscn-bench-runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/rm"), arguments: ["-rf", dir]).waitUntilExit() }
        // 256 MiB external input: hashed once, then served by (dev, inode, size, mtime, ctime).
        let big = dir + "/big.bin"
        _ = FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        for _ in 0..<256 { handle.write(chunk) }
        try handle.close()
        // 1 stage reads the big file (dd's `if=PATH` word is an external input) + a 249-stage chain
        // (STEP=i makes each command its own: equal commands on equal content share one key).
        let yaml = """
            name: bench
            params: {n: 249, big: \(big)}
            stages:
              head:
                command: /bin/dd if=${big} of=${out.f} bs=16 count=1 status=none
                outputs: {f: file}
              s:
                foreach: {i: "1..${n}"}
                command: >-
                  /usr/bin/env STEP=${i} /bin/cp ${i == 1 ? head.f : s@${i-1}.f} ${out.f}
                outputs: {f: file}
            """
        let yamlPath = dir + "/bench.yaml"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: yamlPath))
        // Let the racy-clean window pass so the stat cache may trust its entries.
        Thread.sleep(forTimeInterval: 1.2)

        func runner() throws -> Runner {
            let plan = try Plan(file: try PipelineFile.load(path: yamlPath), overrides: [])
            let r = try Runner(plan: plan, dataRoot: dir + "/Data", toolDirectory: nil)
            r.report = { _ in }
            return r
        }
        let t0 = Date()
        let first = try runner().run()
        print(String(format: "first run: %d stages ran in %.2f s", first.ran.count, Date().timeIntervalSince(t0)))
        var times: [Double] = []
        for _ in 0..<3 {
            let t = Date()
            let again = try runner().run()
            times.append(Date().timeIntervalSince(t))
            guard again.ran.isEmpty else { print("error: no-op re-run executed \(again.ran.count) stages"); return }
        }
        times.sort()
        print(String(format: "no-op re-run of 250 stages (parse + key + index + run folder): median %.3f s, min %.3f s (target < 1 s)",
                     times[1], times[0]))
    }
}
