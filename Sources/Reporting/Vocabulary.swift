import Foundation

/// Token id → word, from the precomp `vocab.json` (`{"word2idx", "idx2word": {"0": "<pad>", …}, "idx"}`).
public struct WordTable: Sendable {
    public var words: [Int: String]

    public static func load(_ path: String) throws -> WordTable {
        let obj = try InputFile.object(path, what: "vocabulary")
        guard let i2w = obj["idx2word"] as? [String: Any] else { throw ReportError("vocabulary has no \"idx2word\" object", path: path) }
        var words: [Int: String] = [:]
        for (k, v) in i2w {
            guard let id = Int(k), let w = v as? String else { throw ReportError("idx2word entry \"\(k)\" is not id → word", path: path) }
            words[id] = w
        }
        return WordTable(words: words)
    }

    /// The caption as text, without the `<start>`/`<end>`/`<pad>` markers.
    public func text<S: Sequence>(_ ids: S) -> String where S.Element == Int32 {
        ids.compactMap { id -> String? in
            let w = words[Int(id)] ?? "<\(id)>"
            return ["<start>", "<end>", "<pad>"].contains(w) ? nil : w
        }.joined(separator: " ")
    }
}
