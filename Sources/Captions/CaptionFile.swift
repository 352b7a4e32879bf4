import Foundation

/// One split's captions as read from disk, in file order.
public struct CaptionFile: Sendable {
    public var path: String
    public var captions: [String]
    /// 1-based line number of each caption in the file (for error messages).
    public var lines: [Int]

    /// Reads `{split}_caps.txt` (one caption per line) or `{split}_caps.tsv` (id TAB caption).
    /// Trailing blank lines are ignored; a blank or whitespace-only caption elsewhere is an error
    /// naming the file and line.
    public static func read(_ path: String) throws -> CaptionFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CaptionFileError(path: path, FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CaptionFileError(path: path, "not UTF-8 text") }
        let tsv = path.hasSuffix(".tsv")
        // "\r\n" is one Character in Swift, so Windows line ends need their own separator.
        var rows = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        while let last = rows.last, last.allSatisfy({ $0.isWhitespace }) { rows.removeLast() }
        var captions: [String] = [], lines: [Int] = []
        captions.reserveCapacity(rows.count)
        for (n, row) in rows.enumerated() {
            var caption = Substring(row)
            if tsv {
                guard let tab = row.firstIndex(of: "\t") else {
                    throw CaptionFileError(path: path, "line \(n + 1): expected 'image id<TAB>caption'")
                }
                caption = row[row.index(after: tab)...]
            }
            guard !caption.allSatisfy({ $0.isWhitespace }) else {
                throw CaptionFileError(path: path, "line \(n + 1): empty caption")
            }
            captions.append(String(caption))
            lines.append(n + 1)
        }
        return CaptionFile(path: path, captions: captions, lines: lines)
    }
}

public struct CaptionFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
