import Artefacts
import Captions
import StageKit

/// Token ids back to caption text, one line per caption, such that tokenising the line and
/// encoding it with the same vocabulary gives the same ids again (checked for every line).
///
/// An `<unk>` id cannot be written as "<unk>": Penn-Treebank tokenisers (ours and nltk's) split
/// the angle brackets off. It is written as a plain lower-case word that is not in the
/// vocabulary, which both tokenisers keep whole and both encoders map back to `<unk>`.
public struct CaptionText: Sendable {
    public let vocabulary: Vocabulary
    public let unknownWord: String

    public init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        var word = "unk", n = 0
        while vocabulary.id(word) != nil {
            word = "unk\(n)"
            n += 1
        }
        unknownWord = word
    }

    /// The text of caption `j` of `set`; `split` names it in errors.
    public func line(_ j: Int, of set: CaptionSet, split: String) throws -> String {
        let ids = set.caption(j)
        guard ids.count >= 2, ids.first == Vocabulary.start, ids.last == Vocabulary.end else {
            throw StageError("\(split) caption \(j) does not run from <start> to <end>")
        }
        var words: [String] = []
        words.reserveCapacity(ids.count - 2)
        for id in ids.dropFirst().dropLast() {
            switch id {
            case Vocabulary.unknown:
                words.append(unknownWord)
            case Vocabulary.pad, Vocabulary.start, Vocabulary.end:
                throw StageError("\(split) caption \(j) holds the special id \(id) inside its words")
            default:
                guard id >= 0, Int(id) < vocabulary.count else {
                    throw StageError("\(split) caption \(j): token id \(id) outside the vocabulary of \(vocabulary.count)")
                }
                words.append(vocabulary.words[Int(id)])
            }
        }
        let text = words.joined(separator: " ")
        guard vocabulary.encode(Tokenizer.tokenize(text)).ids[...] == ids else {
            throw StageError("\(split) caption \(j): the text \"\(text)\" does not tokenise back to its ids (a vocabulary word the tokeniser splits?)")
        }
        return text
    }
}
