import StageKit

Stage.notImplemented("mscn-split")
