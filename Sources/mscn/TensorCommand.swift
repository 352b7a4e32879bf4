import ArgumentParser
import Foundation
import StageKit
import TensorFile

/// `mscn tensor ...`: inspect, verify and convert tensor files.
struct TensorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensor",
        abstract: "Inspect, verify and convert tensor files.",
        subcommands: [Info.self, Verify.self, ImportNPY.self, ExportNPY.self, Upgrade.self]
    )

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tensors and metadata of a file.")
        @Argument(help: "A tensor file.") var file: String

        func run() throws {
            Stage.run("mscn tensor info") {
                let r = try TensorFileReader(path: file)
                print("\(file): \(r.tensors.count) tensors, \(r.fileSize) bytes")
                for t in r.tensors {
                    let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                    print("\(t.name)\t\(t.dtype.rawValue)\t\(shape)\t\(t.byteCount) B\t\(t.storedByteCount) B stored\t\(t.frameCount) frames")
                }
                for (k, v) in r.metadata.sorted(by: { $0.key < $1.key }) { print("meta \(k) = \(v)") }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a file's structure and every frame's checksum.")
        @Argument(help: "A tensor file.") var file: String

        func run() throws {
            Stage.run("mscn tensor verify") {
                let r = try TensorFileReader(path: file)
                try r.verify()
                let raw = r.tensors.reduce(0) { $0 + $1.byteCount }
                let frames = r.tensors.reduce(0) { $0 + $1.frameCount }
                print("\(file): ok (\(r.tensors.count) tensors, \(frames) frames, \(raw) bytes raw)")
            }
        }
    }

    struct ImportNPY: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-npy",
            abstract: "Convert a .npy file (<f4 <f8 <i4 <i8 |u1, C order) into a tensor file.")
        @Argument(help: "The .npy file.") var input: String
        @Argument(help: "The tensor file to write.") var output: String
        @Option(help: "Tensor name (default: the input's base name without .npy).") var name: String?

        func run() throws {
            Stage.run("mscn tensor import-npy") {
                let progress = TensorCommand.progress("import \(input)")
                try NPY.importFile(input, to: output, name: name,
                                   metadata: ["producer": "mscn tensor import-npy",
                                              "source": URL(fileURLWithPath: input).lastPathComponent],
                                   progress: progress)
                print("\(output): wrote \(name ?? NPY.defaultName(for: input))")
            }
        }
    }

    struct ExportNPY: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-npy",
            abstract: "Write one tensor of a file as a numpy .npy file.")
        @Argument(help: "A tensor file.") var file: String
        @Argument(help: "The tensor to export.") var name: String
        @Argument(help: "The .npy file to write.") var output: String

        func run() throws {
            Stage.run("mscn tensor export-npy") {
                let r = try TensorFileReader(path: file)
                try NPY.exportTensor(name, from: r, to: output, progress: TensorCommand.progress("export \(name)"))
                print("\(output): wrote \(name)")
            }
        }
    }

    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite version 1 tensor files in the current layout (in place, atomically).")
        @Argument(help: "Tensor files.") var files: [String]

        func run() throws {
            Stage.run("mscn tensor upgrade") {
                for f in files {
                    print(try TensorFiles.upgrade(f) ? "\(f): upgraded" : "\(f): already current")
                }
            }
        }
    }

    /// Progress in MB, shown only for conversions big enough to take a while.
    static func progress(_ label: String) -> (Int, Int) -> Void {
        var bar: StageKit.Progress?
        return { done, total in
            guard total >= 256 << 20 else { return }
            if bar == nil { bar = StageKit.Progress(label + " (MB)", total: total >> 20) }
            bar?.update(done >> 20)
        }
    }
}
