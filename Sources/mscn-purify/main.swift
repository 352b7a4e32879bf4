import StageKit

Stage.notImplemented("mscn-purify")
