import ArgumentParser
import Foundation
import MSCN
import StageKit

/// `mscn parity DIR`: recompute a reference dump and compare every tensor.
struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "Check this implementation against tensors dumped by the Python reference.",
        discussion: """
        DIR holds manifest.json and one .npy per tensor (names with '/' replaced by '__'), as in \
        Tests/ModelTests/Golden/mscn-parity/{sgr,saf}/{eval,train}. Sizes, learning rates and the module come \
        from the manifest. Prints one row per tensor and exits 1 if any check fails.
        """
    )

    @Argument(help: "A reference dump folder.") var directory: String

    @Option(help: "Finite-difference step of the meta-gradient's second-order term, relative to ‖θ‖/‖u‖.")
    var fdScale: Float = MetaStep.defaultScale

    @Option(help: "The meta-gradient's second-order term: 'exact' (forward-over-reverse) or 'finite-difference'.")
    var metaGrad: String = MetaGradientMethod.exact.rawValue

    @Option(help: "Similarity implementation: 'standard' (the models' default) or 'reference' (op by op).")
    var similarity: String = "standard"

    @Option(help: ArgumentHelp("Also write the dump's parameters as a checkpoint (dropout 0.4), to continue training weights imported from the Python reference.", valueName: "file"))
    var saveCheckpoint: String?

    func validate() throws {
        guard ["standard", "reference"].contains(similarity) else { throw ValidationError("--similarity must be standard or reference") }
        guard MetaGradientMethod(rawValue: metaGrad) != nil else { throw ValidationError("--meta-grad must be exact or finite-difference") }
        guard fdScale > 0 else { throw ValidationError("--fd-scale must be positive") }
    }

    func run() throws {
        var failed = 0
        Stage.run("mscn parity") {
            let reference = similarity == "reference"
            let rows = try Parity.run(ReferenceDump(directory: directory),
                                      similarity: { reference ? ReferenceSimilarity() : SimilarityBackends.standard($0) },
                                      finiteDifferenceScale: fdScale,
                                      metaGradient: MetaGradientMethod(rawValue: metaGrad) ?? .exact)
            print(Parity.table(rows), terminator: "")
            failed = rows.filter { !$0.ok }.count
            if let saveCheckpoint {
                try Checkpoint.save(ReferenceDump(directory: directory).model(dropout: 0.4), to: saveCheckpoint,
                                    metadata: ["imported_from": directory])
                Stage.note("wrote \(saveCheckpoint)")
            }
            Stage.note("\(rows.count - failed) of \(rows.count) checks pass")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
