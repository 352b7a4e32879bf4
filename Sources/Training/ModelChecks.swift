import Artefacts
import MSCN
import StageKit

/// Refusals for a checkpoint that does not fit the data it is asked to work on.
public enum ModelChecks {
    /// `features` and `vocabularySize` describe the data; `path` names the checkpoint.
    public static func compatible(_ c: ModelConfig, features: FeatureTable, vocabularySize: Int, path: String) throws {
        guard c.imageDim == features.dim, c.regions == features.regions else {
            throw StageError("checkpoint expects image features [\(c.regions), \(c.imageDim)], the data has [\(features.regions), \(features.dim)]", path: path)
        }
        guard c.vocabSize == vocabularySize else {
            throw StageError("checkpoint has a vocabulary of \(c.vocabSize), the corpus has \(vocabularySize)", path: path)
        }
    }

    public static func compatible(_ c: ModelConfig, with data: TrainingData, path: String) throws {
        try compatible(c, features: data.features, vocabularySize: data.vocabularySize, path: path)
    }
}
