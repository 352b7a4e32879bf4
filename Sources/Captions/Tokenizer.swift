/// Penn-Treebank-style word splitting of a lower-cased caption, as `nltk.word_tokenize` does for
/// the reference: punctuation and quotes become their own tokens, clitics split off
/// ("don't" → "do n't", "dog's" → "dog 's", "they're" → "they 're"), "cannot" → "can not".
/// A period between digits ("2.5") and an apostrophe inside a word that is not a clitic
/// ("o'clock") stay inside the word.
public enum Tokenizer {
    public static func tokenize(_ caption: String) -> [String] {
        var tokens: [String] = []
        for chunk in caption.lowercased().split(whereSeparator: { $0.isWhitespace }) {
            splitChunk(Array(chunk), into: &tokens)
        }
        return tokens
    }

    private static let alwaysSplit: Set<Character> = [
        ",", ";", ":", "!", "?", "(", ")", "[", "]", "{", "}", "\"", "`", "@", "#", "$", "%", "&", "*", "+", "=", "/", "|", "<", ">", "~", "“", "”", "‘", "’",
    ]
    private static let clitics = ["n't", "'s", "'m", "'d", "'re", "'ve", "'ll"]

    private static func splitChunk(_ chars: [Character], into tokens: inout [String]) {
        var word: [Character] = []
        func flush() {
            guard !word.isEmpty else { return }
            emitWord(word, into: &tokens)
            word.removeAll()
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "." {
                let prevDigit = i > 0 && chars[i - 1].isNumber
                let nextDigit = i + 1 < chars.count && chars[i + 1].isNumber
                if prevDigit && nextDigit || (!word.isEmpty && nextDigit == false && i + 1 < chars.count && chars[i + 1].isLetter) {
                    word.append(c)  // 2.5, u.s.a
                } else {
                    flush()
                    var dots = 1
                    while i + dots < chars.count && chars[i + dots] == "." { dots += 1 }
                    tokens.append(dots > 1 ? String(repeating: ".", count: dots) : ".")
                    i += dots
                    continue
                }
            } else if c == "-" && (word.isEmpty || i + 1 >= chars.count || chars[i + 1] == "-") {
                flush()
                var dashes = 1
                while i + dashes < chars.count && chars[i + dashes] == "-" { dashes += 1 }
                tokens.append(String(repeating: "-", count: dashes))
                i += dashes
                continue
            } else if alwaysSplit.contains(c) {
                flush()
                tokens.append(c == "“" || c == "”" ? "\"" : c == "‘" || c == "’" ? "'" : String(c))
            } else if c == "'" && (word.isEmpty || i + 1 >= chars.count) && !startsClitic(chars, i) {
                flush()
                tokens.append("'")
            } else {
                word.append(c)
            }
            i += 1
        }
        flush()
    }

    private static func startsClitic(_ chars: [Character], _ i: Int) -> Bool {
        let rest = String(chars[i...])
        return clitics.contains { rest == $0 } && i > 0
    }

    /// Splits clitics off the end of a word ("don't" → "do", "n't").
    private static func emitWord(_ word: [Character], into tokens: inout [String]) {
        let s = String(word)
        if s == "cannot" {
            tokens.append(contentsOf: ["can", "not"])
            return
        }
        for clitic in clitics where s.count > clitic.count && s.hasSuffix(clitic) {
            tokens.append(String(s.dropLast(clitic.count)))
            tokens.append(clitic)
            return
        }
        if s.hasSuffix("'") && s.count > 1 {  // plural possessive: "dogs'" → "dogs" "'"
            tokens.append(String(s.dropLast()))
            tokens.append("'")
            return
        }
        tokens.append(s)
    }
}
