import Artefacts
import MSCN
import StageKit

/// Refusals for a checkpoint that does not fit the data it is asked to work on.
public enum ModelChecks {
    public static func compatible(_ c: ModelConfig, with data: TrainingData, corpus: String, path: String) throws {
        guard c.imageDim == data.features.dim, c.regions == data.features.regions else {
            throw StageError("checkpoint expects image features [\(c.regions), \(c.imageDim)], the data has [\(data.features.regions), \(data.features.dim)]", path: path)
        }
        let vocab = try Corpus.load(corpus).vocabularySize
        guard c.vocabSize == vocab else {
            throw StageError("checkpoint has a vocabulary of \(c.vocabSize), the corpus has \(vocab)", path: path)
        }
    }
}
