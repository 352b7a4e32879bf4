import StageKit

Stage.notImplemented("mscn-noise")
