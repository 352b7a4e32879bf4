import StageKit
import ArgumentParser

/// The umbrella tool: pipeline runner and utilities. Each subcommand lives in its own file.
struct MSCNTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn",
        abstract: "MSCN noisy-correspondence pipeline: runner and utilities.",
        subcommands: MSCNTool.allSubcommands
    )
}

MSCNTool.main(NegativeValues.commandLine)
