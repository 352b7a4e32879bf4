import StageKit

EvaluateCommand.main(NegativeValues.commandLine)
