import StageKit

TrainCommand.main(NegativeValues.commandLine)
