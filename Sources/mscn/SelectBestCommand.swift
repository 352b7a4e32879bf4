import ArgumentParser
import Foundation
import MSCN
import StageKit
import TensorFile

/// `mscn select-best`: picks the round with the best dev rSum and publishes its A and B checkpoints,
/// so the test evaluation downstream stays a static pipeline stage.
struct SelectBestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select-best",
        abstract: "Pick the round with the highest dev rSum and copy its checkpoints.",
        discussion: """
            The i-th --metrics, --ckpt-a and --ckpt-b belong to the same round, the first being round \
            --first-round. With --first-round 0 the first entry is the warm-up pair, a candidate like any \
            round (as the reference keeps its warm-up pair unless an epoch beats it on dev). Ties go to the \
            earliest round.
            """
    )

    @Option(parsing: .upToNextOption, help: "Dev metrics.json of every round, in round order.")
    var metrics: [String]
    @Option(name: .customLong("ckpt-a"), parsing: .upToNextOption, help: "Net A checkpoint of every round.")
    var checkpointsA: [String]
    @Option(name: .customLong("ckpt-b"), parsing: .upToNextOption, help: "Net B checkpoint of every round.")
    var checkpointsB: [String]
    @Option(name: .customLong("out-a"), help: "Where to write the best round's net A checkpoint.")
    var outA: String
    @Option(name: .customLong("out-b"), help: "Where to write the best round's net B checkpoint.")
    var outB: String
    @Option(help: "Where to write a JSON note of the choice (round, rsum per round).")
    var out: String
    @Option(name: .customLong("first-round"), help: "Round of the first entry: 0 when the warm-up pair is a candidate.")
    var firstRound: Int = 1

    func validate() throws {
        guard !metrics.isEmpty else { throw ValidationError("give at least one --metrics file") }
        guard firstRound == 0 || firstRound == 1 else { throw ValidationError("--first-round is 0 (warm-up included) or 1") }
        guard metrics.count == checkpointsA.count, metrics.count == checkpointsB.count else {
            throw ValidationError("--metrics (\(metrics.count)), --ckpt-a (\(checkpointsA.count)) and --ckpt-b (\(checkpointsB.count)) must have one entry per round")
        }
        try StageOutputs.requireDistinct([("--out-a", outA), ("--out-b", outB), ("--out", out)])
    }

    func run() throws {
        Stage.run("mscn select-best") {
            try StageOutputs.requireWritableFolders([outA, outB, out])
            let sums = try metrics.map { try Self.rsum(of: $0) }
            var best = 0
            for (i, s) in sums.enumerated() where s > sums[best] { best = i }
            // Every round's checkpoints must exist (a missing one is a broken run even when another
            // round wins), and the winners must be whole MSCN checkpoints before they are published.
            for path in checkpointsA + checkpointsB where !FileManager.default.fileExists(atPath: path) {
                throw StageError("no such checkpoint", path: path)
            }
            for path in [checkpointsA[best], checkpointsB[best]] { _ = try Checkpoint.load(path) }
            let note: [String: Any] = ["best_round": best + firstRound, "best_rsum": sums[best], "rsum_per_round": sums,
                                       "first_round": firstRound]
            let data = try JSONSerialization.data(withJSONObject: note, options: [.prettyPrinted, .sortedKeys])
            try StageOutputs.writeAll([
                (outA, { try Self.copy(checkpointsA[best], to: outA) }),
                (outB, { try Self.copy(checkpointsB[best], to: outB) }),
                (out, { try AtomicWrite.write(data, to: out) }),
            ])
            let which = best + firstRound == 0 ? "the warm-up pair (round 0)" : "round \(best + firstRound)"
            print("best: \(which) of rounds \(firstRound)...\(firstRound + sums.count - 1): dev rSum \(String(format: "%.2f", sums[best]))")
        }
    }

    static func rsum(of path: String) throws -> Double {
        guard let data = FileManager.default.contents(atPath: path) else { throw StageError("cannot read metrics", path: path) }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let value = (obj["rsum"] as? NSNumber)?.doubleValue else {
            throw StageError("not a metrics file (no numeric \"rsum\")", path: path)
        }
        return value
    }

    static func copy(_ source: String, to target: String) throws {
        let tmp = target + ".tmp-\(getpid())"
        unlink(tmp)
        do {
            try FileManager.default.copyItem(atPath: source, toPath: tmp)
        } catch {
            // Foundation's error names the source; the failing side here is the copy being written.
            unlink(tmp)
            throw StageError("cannot write a copy of \(source) (\(IOErrorText.reason(error)))", path: target)
        }
        guard rename(tmp, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw StageError("cannot move checkpoint into place (\(reason))", path: target)
        }
    }
}
