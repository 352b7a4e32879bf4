import StageKit

Stage.notImplemented("mscn-train")
