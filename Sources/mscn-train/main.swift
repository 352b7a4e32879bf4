import StageKit

TrainCommand.main()
