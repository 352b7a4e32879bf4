import StageKit

Stage.notImplemented("mscn-ingest")
