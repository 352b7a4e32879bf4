/// The parameter grid of a sweep: `--grid noise=0.2,0.5,0.7 --grid seed=0,1,2`.
public struct SweepGrid: Equatable, Sendable {
    public var axes: [(name: String, values: [String])]

    public static func == (a: SweepGrid, b: SweepGrid) -> Bool {
        a.axes.map(\.name) == b.axes.map(\.name) && a.axes.map(\.values) == b.axes.map(\.values)
    }

    public init(axes: [(name: String, values: [String])]) { self.axes = axes }

    /// Parses `name=v1,v2,…` (commas and/or spaces separate values, so `make` lists pass through).
    public init(parsing specs: [String]) throws {
        var axes: [(name: String, values: [String])] = []
        for s in specs {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else { throw ReportError("--grid expects name=v1,v2,…, got '\(s)'") }
            let name = String(s[..<eq])
            let values = s[s.index(after: eq)...].split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
            guard !values.isEmpty else { throw ReportError("--grid \(name) has no values") }
            guard Set(values).count == values.count else { throw ReportError("--grid \(name) repeats a value") }
            guard !axes.contains(where: { $0.name == name }) else { throw ReportError("--grid \(name) given twice") }
            axes.append((name, values))
        }
        guard !axes.isEmpty else { throw ReportError("give at least one --grid") }
        self.axes = axes
    }

    /// Every combination, the first axis varying slowest.
    public var points: [[(name: String, value: String)]] {
        var out: [[(name: String, value: String)]] = [[]]
        for axis in axes {
            out = out.flatMap { p in axis.values.map { p + [(axis.name, $0)] } }
        }
        return out
    }
}
