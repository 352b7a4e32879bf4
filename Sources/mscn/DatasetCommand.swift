import ArgumentParser
import BuiltinDataset
import Foundation
import StageKit

/// `mscn dataset generate`: the small built-in image–caption dataset `make pipeline` uses.
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Built-in dataset tools.",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate the built-in dataset (JPEG scenes of coloured shapes, 5 captions each) in the images layout.")
        @Option(help: "Output folder (created if missing).") var out: String
        @Option(help: "Training images.") var train: Int = 3000
        @Option(help: "Dev images.") var dev: Int = 200
        @Option(help: "Test images.") var test: Int = 200
        @Option(help: "Image side in pixels.") var size: Int = 64
        @Option(help: "Seed: the same seed gives byte-identical files.") var seed: UInt64 = 0

        func validate() throws {
            guard train > 0, dev > 0, test > 0 else { throw ValidationError("--train, --dev and --test must be positive") }
            guard (16...1024).contains(size) else { throw ValidationError("--size must be in 16...1024") }
        }

        func run() throws {
            Stage.run("mscn dataset generate") {
                let generator = DatasetGenerator(train: train, dev: dev, test: test, size: size, seed: seed)
                let bar = StageKit.Progress("generate", total: train + dev + test)
                try generator.write(to: out) { done, _ in bar.update(done) }
                print("\(out)\ttrain \(train)\tdev \(dev)\ttest \(test)\t\(size)x\(size)\tK=\(DatasetGenerator.captionsPerImage)")
            }
        }
    }
}
