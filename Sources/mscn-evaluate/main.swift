import StageKit

EvaluateCommand.main()
