import StageKit
FeaturesCommand.main(NegativeValues.commandLine)
