import Foundation

/// Plain-text tables for terminals (columns padded, numbers right-aligned) and TSV.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]]
    /// Columns from this index on are right-aligned.
    public var numericFrom: Int

    public init(header: [String], rows: [[String]], numericFrom: Int = 1) {
        self.header = header
        self.rows = rows
        self.numericFrom = numericFrom
    }

    public func text() -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return i >= numericFrom ? pad + c : c + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }

    public func tsv() -> String {
        ([header] + rows).map { $0.joined(separator: "\t") }.joined(separator: "\n")
    }

    public func markdown() -> String {
        let sep = header.indices.map { $0 >= numericFrom ? "---:" : "---" }
        return ([header, sep] + rows).map { "| " + $0.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
            .joined(separator: "\n")
    }
}
