import StageKit

PurifyCommand.main()
