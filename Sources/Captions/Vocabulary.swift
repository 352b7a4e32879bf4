import Foundation

/// Word ↔ id map in the reference's json format:
/// `{"word2idx": {...}, "idx2word": {"0": "<pad>", ...}, "idx": n}` with `<pad>`=0, `<start>`=1,
/// `<end>`=2, `<unk>`=3.
public struct Vocabulary: Sendable, Equatable {
    public static let pad: Int32 = 0, start: Int32 = 1, end: Int32 = 2, unknown: Int32 = 3
    public static let specials = ["<pad>", "<start>", "<end>", "<unk>"]

    public private(set) var words: [String]
    private var index: [String: Int32]

    public init(words: [String]) throws {
        guard Array(words.prefix(4)) == Self.specials else {
            throw VocabularyError("the first ids must be \(Self.specials.joined(separator: ", "))")
        }
        var index: [String: Int32] = [:]
        for (i, w) in words.enumerated() {
            guard index[w] == nil else { throw VocabularyError("word '\(w)' appears twice") }
            index[w] = Int32(i)
        }
        self.words = words
        self.index = index
    }

    /// Words seen at least `minCount` times, in order of first appearance (as the reference's
    /// `Counter` iteration yields them), after the four specials.
    public static func build<S: Sequence>(from tokenized: S, minCount: Int) throws -> Vocabulary where S.Element == [String] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for caption in tokenized {
            for w in caption {
                if let c = counts[w] { counts[w] = c + 1 } else { counts[w] = 1; order.append(w) }
            }
        }
        let kept = order.filter { (counts[$0] ?? 0) >= minCount && !specials.contains($0) }
        return try Vocabulary(words: specials + kept)
    }

    public var count: Int { words.count }

    public func id(_ word: String) -> Int32? { index[word] }

    /// `<start>`, word ids (unknown → `<unk>`), `<end>`; also returns how many words were unknown.
    public func encode(_ tokens: [String]) -> (ids: [Int32], unknown: Int) {
        var ids: [Int32] = [Self.start]
        ids.reserveCapacity(tokens.count + 2)
        var unknown = 0
        for t in tokens {
            if let i = index[t] { ids.append(i) } else { ids.append(Self.unknown); unknown += 1 }
        }
        ids.append(Self.end)
        return (ids, unknown)
    }

    /// Reads the reference json; `path` names the file in errors.
    public static func load(_ path: String) throws -> Vocabulary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VocabularyError(FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file", path: path)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw VocabularyError("not valid JSON", path: path)
        }
        guard let root = object as? [String: Any], let idx2word = root["idx2word"] as? [String: Any] else {
            throw VocabularyError("no idx2word object (expected the word2idx/idx2word/idx format)", path: path)
        }
        var words = [String?](repeating: nil, count: idx2word.count)
        for (key, value) in idx2word {
            guard let i = Int(key), i >= 0, i < words.count, let w = value as? String else {
                throw VocabularyError("idx2word entry '\(key)' is not an id in 0..<\(words.count) with a word", path: path)
            }
            words[i] = w
        }
        let complete = words.compactMap { $0 }
        guard complete.count == words.count else { throw VocabularyError("idx2word ids are not contiguous", path: path) }
        if let n = root["idx"] as? Int, n != complete.count {
            throw VocabularyError("idx is \(n) but idx2word has \(complete.count) words", path: path)
        }
        if let w2i = root["word2idx"] as? [String: Any] {
            for (w, v) in w2i {
                guard let i = v as? Int, i >= 0, i < complete.count, complete[i] == w else {
                    throw VocabularyError("word2idx['\(w)'] disagrees with idx2word", path: path)
                }
            }
        }
        do { return try Vocabulary(words: complete) } catch let e as VocabularyError {
            throw VocabularyError(e.message, path: path)
        }
    }

    /// The json text, keys in id order so the same vocabulary always gives the same bytes.
    public func json() -> String {
        var s = "{\"word2idx\": {"
        s += words.enumerated().map { "\(Self.quote($0.element)): \($0.offset)" }.joined(separator: ", ")
        s += "}, \"idx2word\": {"
        s += words.enumerated().map { "\"\($0.offset)\": \(Self.quote($0.element))" }.joined(separator: ", ")
        s += "}, \"idx\": \(words.count)}\n"
        return s
    }

    static func quote(_ w: String) -> String {
        var out = "\""
        for u in w.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

public struct VocabularyError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var path: String?
    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }
    public var description: String { path.map { "\($0): \(message)" } ?? message }
}
