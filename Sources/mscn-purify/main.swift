import StageKit

PurifyCommand.main(NegativeValues.commandLine)
