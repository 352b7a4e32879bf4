import StageKit

Stage.notImplemented("mscn-features")
