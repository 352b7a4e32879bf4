import StageKit

Stage.notImplemented("mscn-evaluate")
