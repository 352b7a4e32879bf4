import Foundation

/// Word splitting as the reference's `nltk.tokenize.word_tokenize(caption.lower())`, so
/// vocabularies built by the reference's vocab script and by `mscn-ingest` give the same ids.
///
/// It is NLTK's `NLTKWordTokenizer` (nltk 3.10), rule for rule: the same regular expressions
/// applied in the same order (ICU syntax instead of Python's). Double quotes become `` and ''
/// as in the Penn Treebank; clitics split off ("don't" → "do n't", "dog's" → "dog 's");
/// "cannot" → "can not"; unicode quotes and dashes become their own tokens; hyphenated words,
/// decimals ("2.5") and inner periods ("u.s.a.") stay whole. `word_tokenize` first splits the
/// text into sentences with NLTK's punkt model, so a caption holding two sentences ("a dog. a
/// cat") keeps "dog." whole here; one-sentence captions tokenise identically.
/// `Tests/DataStageTests/Golden/nltk` records NLTK's own output for tricky captions.
public enum Tokenizer {
    public static func tokenize(_ caption: String) -> [String] {
        var text = caption.lowercased()
        for rule in Rules.starting + Rules.punctuation { text = rule.apply(text) }
        text = Rules.parens.apply(text)
        text = Rules.doubleDashes.apply(text)
        text = " " + text + " "
        for rule in Rules.ending + Rules.contractions { text = rule.apply(text) }
        return text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    /// One substitution: every non-overlapping match, left to right, replaced by the template
    /// (`$1` for a group, `$0` for the match), as Python's `re.sub`.
    struct Rule: @unchecked Sendable {
        // NSRegularExpression is immutable once built and documented as safe to share across threads.
        let regex: NSRegularExpression
        let template: String

        init(_ pattern: String, _ template: String) {
            do {
                regex = try NSRegularExpression(pattern: pattern)
            } catch {
                // The patterns are constants of this file; a failure is a programming error.
                fatalError("tokenizer pattern \(pattern) does not compile: \(error)")
            }
            self.template = template
        }

        func apply(_ text: String) -> String {
            let range = NSRange(text.startIndex..., in: text)
            // Most rules match nothing in most captions; skip the copy then.
            guard regex.firstMatch(in: text, range: range) != nil else { return text }
            return regex.stringByReplacingMatches(in: text, range: range, withTemplate: template)
        }
    }

    /// NLTKWordTokenizer's tables (nltk/tokenize/destructive.py), in its order.
    enum Rules {
        static let starting = [
            Rule("([«“‘„]|[`]+)", " $1 "),
            Rule("^\"", "``"),
            Rule("(``)", " $1 "),
            Rule("([ (\\[{<])(\"|'{2})", "$1 `` "),
            Rule("(?i)(?<!\\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\\b)(?=\\w)", "$1 "),
        ]
        static let punctuation = [
            Rule("([^.])(\\.)([\\])}>\"'»”’ ]*+)\\s*$", "$1 $2 $3 "),
            Rule("([:,])([^\\d])", " $1 $2"),
            Rule("([:,])$", " $1 "),
            Rule("\\.{2,}", " $0 "),
            Rule("[;@#$%&]", " $0 "),
            Rule("[\\u2012-\\u2015]", " $0 "),
            Rule("([^.])(\\.)([\\])}>\"']*)\\s*$", "$1 $2$3 "),
            Rule("[?!]", " $0 "),
            Rule("([^'])' ", "$1 ' "),
            Rule("[*]", " $0 "),
        ]
        static let parens = Rule("[\\]\\[(){}<>]", " $0 ")
        static let doubleDashes = Rule("--", " -- ")
        static let ending = [
            Rule("([»”’])", " $1 "),
            Rule("''", " '' "),
            Rule("\"", " '' "),
            Rule("\\s+", " "),
            Rule("([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "),
            Rule("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "),
        ]
        static let contractions = [
            "(?i)\\b(can)(not)\\b", "(?i)\\b(d)('ye)\\b", "(?i)\\b(gim)(me)\\b", "(?i)\\b(gon)(na)\\b",
            "(?i)\\b(got)(ta)\\b", "(?i)\\b(lem)(me)\\b", "(?i)\\b(more)('n)\\b", "(?i)\\b(wan)(na)(?=\\s)",
            "(?i) ('t)(is)\\b", "(?i) ('t)(was)\\b",
        ].map { Rule($0, " $1 $2 ") }
    }
}
