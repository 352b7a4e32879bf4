import ArgumentParser
import Foundation
import StageKit
import TensorFile

/// `mscn tensor ...`: inspect, verify and convert tensor files.
struct TensorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensor",
        abstract: "Inspect, verify and convert tensor files.",
        subcommands: [Info.self]
    )

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tensors and metadata of a file.")
        @Argument(help: "A tensor file.") var file: String

        func run() throws {
            Stage.run("mscn tensor info") {
                let r = try TensorFileReader(path: file)
                for t in r.tensors {
                    print("\(t.name)\t\(t.dtype.rawValue)\t\(t.shape)\t\(t.byteCount) B\t\(t.storedByteCount) B stored")
                }
                for (k, v) in r.metadata.sorted(by: { $0.key < $1.key }) { print("meta \(k) = \(v)") }
            }
        }
    }
}
