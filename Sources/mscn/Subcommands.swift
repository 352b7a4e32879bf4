import ArgumentParser

extension MSCNTool {
    /// Every subcommand, in the order `--help` lists them.
    static var allSubcommands: [ParsableCommand.Type] {
        [
            TensorCommand.self,
            SelectBestCommand.self,
            RunCommand.self, StatusCommand.self, ExplainCommand.self,
            DatasetCommand.self,
            ParityCommand.self,
            WeightsCommand.self,
            ReportCommand.self,
            RunsCommand.self, DiffCommand.self,
            SweepCommand.self,
            ExportCommand.self,
            BLASCheckCommand.self,
        ]
    }
}
