import StageKit
IngestCommand.main(NegativeValues.commandLine)
