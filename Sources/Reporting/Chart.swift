import Foundation

/// One data series of a chart.
public struct Series {
    public enum Kind { case line, bars(width: Double) }
    public enum Marker: String { case circle, square, triangle }

    public var label: String
    public var color: String
    public var kind: Kind = .line
    /// `y == nil` leaves a gap in a line.
    public var points: [(x: Double, y: Double?)]
    /// Symmetric error bars (same count as `points`), e.g. ± one standard deviation.
    public var errors: [Double]?
    public var dash: String?
    public var marker: Marker?
    public var lineWidth: Double = 2
    public var opacity: Double = 1
    public var inLegend = true
    /// Print each point's value above it (for short series, e.g. a few rounds).
    public var valueLabels = false

    public init(label: String, color: String, points: [(x: Double, y: Double?)], kind: Kind = .line,
                dash: String? = nil, marker: Marker? = nil, errors: [Double]? = nil,
                lineWidth: Double = 2, opacity: Double = 1, inLegend: Bool = true) {
        self.label = label
        self.color = color
        self.points = points
        self.kind = kind
        self.dash = dash
        self.marker = marker
        self.errors = errors
        self.lineWidth = lineWidth
        self.opacity = opacity
        self.inLegend = inLegend
    }
}

/// A vertical reference line (e.g. where a training stage starts).
public struct VerticalRule {
    public var x: Double
    public var label: String
    /// Label near the x axis instead of the top (where point labels of high values sit).
    public var labelAtBottom: Bool
    public init(x: Double, label: String, labelAtBottom: Bool = false) {
        self.x = x
        self.label = label
        self.labelAtBottom = labelAtBottom
    }
}

/// A static SVG chart: title, legend row, axes with ticks and labels, series.
///
/// The plot group carries its data-to-pixel mapping (`data-x-domain`, `data-y-domain`,
/// `data-px`, `data-py`) so a test can turn drawn coordinates back into data values.
public struct Chart {
    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width: Double = 600
    public var height: Double = 340
    public var xDomain: (lo: Double, hi: Double)?
    public var yDomain: (lo: Double, hi: Double)?
    /// Explicit x ticks (value, text); nil = automatic.
    public var xTicks: [(Double, String)]?
    public var rules: [VerticalRule] = []

    public init(id: String, title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    static func n(_ v: Double) -> String { Fmt.f(v, 2) }

    public func svg() -> String {
        let xs = series.flatMap { s -> [Double] in
            if case .bars(let w) = s.kind { return s.points.flatMap { [$0.x, $0.x + w] } }
            return s.points.map(\.x)
        } + rules.map(\.x)
        let ys = series.flatMap { s in
            s.points.indices.flatMap { i -> [Double] in
                guard let y = s.points[i].y else { return [] }
                let e = s.errors?[i] ?? 0
                return [y - e, y + e]
            }
        }
        let isBars = series.contains { if case .bars = $0.kind { return true }; return false }
        let xd = xDomain ?? (xTicks != nil ? Self.padded(xs) : LinearScale.niceDomain(xs))
        let yd = yDomain ?? LinearScale.niceDomain(ys, includeZero: isBars)

        // Legend entries flow left to right and wrap.
        let legendItems = series.filter(\.inLegend)
        var rows: [[(Series, Double)]] = [[]]
        var cursor = 70.0
        for s in legendItems {
            let w = 34 + Double(s.label.count) * 7.2 + 18
            if cursor + w > width - 10, !(rows.last?.isEmpty ?? true) {
                rows.append([])
                cursor = 70
            }
            rows[rows.count - 1].append((s, cursor))
            cursor += w
        }
        let legendRows = legendItems.isEmpty ? 0 : rows.count
        let left = 70.0, right = width - 20
        let top = 34 + Double(legendRows) * 18 + 8, bottom = height - 52
        let sx = LinearScale(domain: xd, range: (left, right))
        let sy = LinearScale(domain: yd, range: (bottom, top))

        var o = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" data-figure=\"\(escapeXML(id))\" font-family='\(Style.font)'>\n"
        o += "<title>\(escapeXML(title))</title>\n"
        o += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        o += "<text x=\"\(n(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" fill=\"#111\">\(escapeXML(title))</text>\n"
        for (r, row) in rows.enumerated() where legendRows > 0 {
            let y = 40 + Double(r) * 18
            for (s, x) in row {
                o += "<g class=\"legend\">"
                if case .bars = s.kind {
                    o += "<rect x=\"\(n(x))\" y=\"\(n(y - 9))\" width=\"26\" height=\"10\" fill=\"\(s.color)\" fill-opacity=\"\(n(max(s.opacity, 0.35)))\" stroke=\"\(s.color)\"/>"
                } else {
                    o += "<line x1=\"\(n(x))\" y1=\"\(n(y - 4))\" x2=\"\(n(x + 26))\" y2=\"\(n(y - 4))\" stroke=\"\(s.color)\" stroke-width=\"\(n(max(s.lineWidth, 2)))\"\(s.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
                    if let m = s.marker { o += markerSVG(m, x + 13, y - 4, s.color, nil) }
                }
                o += "<text x=\"\(n(x + 32))\" y=\"\(n(y))\" font-size=\"12\" fill=\"#222\">\(escapeXML(s.label))</text></g>\n"
            }
        }

        o += "<g class=\"plot\" data-x-domain=\"\(xd.lo) \(xd.hi)\" data-y-domain=\"\(yd.lo) \(yd.hi)\" data-px=\"\(left) \(right)\" data-py=\"\(bottom) \(top)\">\n"
        // Grid and y ticks.
        for t in LinearScale(domain: yd, range: (0, 1)).ticks(5) {
            let y = sy(t)
            o += "<line x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(right))\" y2=\"\(n(y))\" stroke=\"#e3e3e3\" stroke-width=\"1\"/>"
            o += "<text x=\"\(n(left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#333\">\(Fmt.tick(t))</text>\n"
        }
        let xt = xTicks ?? LinearScale(domain: xd, range: (0, 1)).ticks(6).map { ($0, Fmt.tick($0)) }
        for (t, label) in xt where t >= xd.lo - 1e-9 && t <= xd.hi + 1e-9 {
            let x = sx(t)
            o += "<line x1=\"\(n(x))\" y1=\"\(n(bottom))\" x2=\"\(n(x))\" y2=\"\(n(bottom + 5))\" stroke=\"#333\"/>"
            o += "<text x=\"\(n(x))\" y=\"\(n(bottom + 18))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333\">\(escapeXML(label))</text>\n"
        }
        for r in rules {
            let x = sx(r.x)
            o += "<line class=\"rule\" x1=\"\(n(x))\" y1=\"\(n(top))\" x2=\"\(n(x))\" y2=\"\(n(bottom))\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>"
            o += "<text x=\"\(n(x + 3))\" y=\"\(n(r.labelAtBottom ? bottom - 5 : top + 11))\" font-size=\"10\" fill=\"#666\">\(escapeXML(r.label))</text>\n"
        }
        for s in series { o += seriesSVG(s, sx, sy, bottom: bottom) }
        o += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(right - left))\" height=\"\(n(bottom - top))\" fill=\"none\" stroke=\"#333\"/>\n"
        o += "</g>\n"
        o += "<text x=\"\(n((left + right) / 2))\" y=\"\(n(height - 12))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">\(escapeXML(xLabel))</text>\n"
        o += "<text transform=\"translate(18 \(n((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">\(escapeXML(yLabel))</text>\n"
        o += "</svg>"
        return o
    }

    private func n(_ v: Double) -> String { Self.n(v) }

    /// Explicit ticks (e.g. rounds 1…n) get half a step of room on each side.
    static func padded(_ xs: [Double]) -> (lo: Double, hi: Double) {
        guard let lo = xs.min(), let hi = xs.max() else { return (0, 1) }
        return hi > lo ? (lo - 0.5, hi + 0.5) : (lo - 1, hi + 1)
    }

    private func seriesSVG(_ s: Series, _ sx: LinearScale, _ sy: LinearScale, bottom: Double) -> String {
        let label = escapeXML(s.label)
        var o = ""
        switch s.kind {
        case .bars(let w):
            o += "<g class=\"bars\" data-label=\"\(label)\" fill=\"\(s.color)\" fill-opacity=\"\(n(s.opacity))\" stroke=\"\(s.color)\" stroke-width=\"0.6\">"
            for p in s.points {
                guard let y = p.y else { continue }
                let x0 = sx(p.x), x1 = sx(p.x + w), y0 = sy(y)
                o += "<rect x=\"\(n(x0))\" y=\"\(n(y0))\" width=\"\(n(max(x1 - x0, 0)))\" height=\"\(n(max(bottom - y0, 0)))\"/>"
            }
            o += "</g>\n"
        case .line:
            var runs: [[(Double, Double)]] = [[]]
            for p in s.points {
                if let y = p.y, y.isFinite { runs[runs.count - 1].append((p.x, y)) } else if !(runs.last?.isEmpty ?? true) { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                let pts = run.map { "\(n(sx($0.0))),\(n(sy($0.1)))" }.joined(separator: " ")
                o += "<polyline class=\"series\" data-label=\"\(label)\" points=\"\(pts)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"\(n(s.lineWidth))\" stroke-opacity=\"\(n(s.opacity))\" stroke-linejoin=\"round\"\(s.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>\n"
            }
            if let errors = s.errors {
                for (p, e) in zip(s.points, errors) where e > 0 {
                    guard let y = p.y else { continue }
                    let x = sx(p.x)
                    o += "<path class=\"error\" data-label=\"\(label)\" d=\"M\(n(x)) \(n(sy(y - e)))V\(n(sy(y + e)))M\(n(x - 4)) \(n(sy(y - e)))H\(n(x + 4))M\(n(x - 4)) \(n(sy(y + e)))H\(n(x + 4))\" stroke=\"\(s.color)\" stroke-width=\"1.5\" fill=\"none\"/>\n"
                }
            }
            if let m = s.marker {
                for (i, p) in s.points.enumerated() {
                    guard let y = p.y, y.isFinite else { continue }
                    let err = s.errors.map { " ± " + Fmt.f($0[i]) } ?? ""
                    o += markerSVG(m, sx(p.x), sy(y), s.color, "\(s.label): x = \(Fmt.tick(p.x)), y = \(Fmt.f(y))\(err)") + "\n"
                    if s.valueLabels {
                        o += "<text class=\"value\" x=\"\(n(sx(p.x)))\" y=\"\(n(sy(y) - 8))\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"\(s.color)\">\(Fmt.f(y))</text>\n"
                    }
                }
            }
        }
        return o
    }

    private func markerSVG(_ m: Series.Marker, _ x: Double, _ y: Double, _ color: String, _ tip: String?) -> String {
        let t = tip.map { "<title>\(escapeXML($0))</title>" } ?? ""
        let cls = tip == nil ? "" : " class=\"marker\""
        switch m {
        case .circle:
            return "<circle\(cls) cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"3.5\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\">\(t)</circle>"
        case .square:
            return "<rect\(cls) x=\"\(n(x - 3.5))\" y=\"\(n(y - 3.5))\" width=\"7\" height=\"7\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\">\(t)</rect>"
        case .triangle:
            return "<path\(cls) d=\"M\(n(x)) \(n(y - 4.5))L\(n(x + 4.5)) \(n(y + 3.5))L\(n(x - 4.5)) \(n(y + 3.5))Z\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\">\(t)</path>"
        }
    }
}
