import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// A parsed XML element (enough of a DOM to check figures).
final class XMLNode {
    let name: String
    let attributes: [String: String]
    var children: [XMLNode] = []
    var text = ""
    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    func all(_ name: String) -> [XMLNode] {
        (self.name == name ? [self] : []) + children.flatMap { $0.all(name) }
    }
}

/// Parses an XML fragment with Foundation's XMLParser; fails the test when it is not well-formed.
final class XMLTree: NSObject, XMLParserDelegate {
    private var stack: [XMLNode] = []
    private(set) var root: XMLNode?

    static func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> XMLNode? {
        let t = XMLTree()
        let p = XMLParser(data: Data(text.utf8))
        p.delegate = t
        guard p.parse(), let root = t.root else {
            XCTFail("not well-formed XML: \(p.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
            return nil
        }
        return root
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let n = XMLNode(name: elementName, attributes: attributeDict)
        stack.last?.children.append(n)
        if stack.isEmpty { root = n }
        stack.append(n)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
}

/// One chart of the report: its SVG tree and the pixel → data mapping its plot group declares.
struct Figure {
    let root: XMLNode
    let xd: (Double, Double), yd: (Double, Double), px: (Double, Double), py: (Double, Double)

    /// The `<svg data-figure="id">…</svg>` fragment of `html`, parsed.
    init?(_ html: String, id: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let tag = html.range(of: "data-figure=\"\(id)\""),
              let open = html.range(of: "<svg", options: .backwards, range: html.startIndex..<tag.lowerBound),
              let close = html.range(of: "</svg>", range: tag.upperBound..<html.endIndex) else {
            XCTFail("no figure '\(id)'", file: file, line: line)
            return nil
        }
        guard let root = XMLTree.parse(String(html[open.lowerBound..<close.upperBound]), file: file, line: line),
              let plot = root.all("g").first(where: { $0.attributes["class"] == "plot" }) else { return nil }
        func pair(_ k: String) -> (Double, Double) {
            let v = (plot.attributes[k] ?? "").split(separator: " ").compactMap { Double($0) }
            return v.count == 2 ? (v[0], v[1]) : (.nan, .nan)
        }
        self.root = root
        xd = pair("data-x-domain"); yd = pair("data-y-domain"); px = pair("data-px"); py = pair("data-py")
    }

    func x(_ p: Double) -> Double { xd.0 + (p - px.0) / (px.1 - px.0) * (xd.1 - xd.0) }
    func y(_ p: Double) -> Double { yd.0 + (p - py.0) / (py.1 - py.0) * (yd.1 - yd.0) }
    /// Data units per 0.01 px (the rounding of drawn coordinates), for tolerances.
    var yResolution: Double { abs(yd.1 - yd.0) / abs(py.1 - py.0) * 0.01 }
    var xResolution: Double { abs(xd.1 - xd.0) / abs(px.1 - px.0) * 0.01 }

    /// Data points of the polylines labelled `label`, in drawing order.
    func line(_ label: String) -> [(x: Double, y: Double)] {
        root.all("polyline").filter { $0.attributes["data-label"] == label }.flatMap { pl in
            (pl.attributes["points"] ?? "").split(separator: " ").compactMap { pt -> (x: Double, y: Double)? in
                let c = pt.split(separator: ",").compactMap { Double($0) }
                return c.count == 2 ? (x(c[0]), y(c[1])) : nil
            }
        }
    }

    /// Bars of the group labelled `label`: (left edge, width, height) in data units.
    func bars(_ label: String) -> [(x: Double, w: Double, h: Double)] {
        root.all("g").filter { $0.attributes["data-label"] == label }.flatMap { $0.children }.compactMap { r in
            guard let x0 = Double(r.attributes["x"] ?? ""), let w = Double(r.attributes["width"] ?? ""),
                  let y0 = Double(r.attributes["y"] ?? ""), let h = Double(r.attributes["height"] ?? "") else { return nil }
            return (x(x0), x(x0 + w) - x(x0), y(y0) - y(y0 + h))
        }
    }

    var legend: [String] {
        root.all("g").filter { $0.attributes["class"] == "legend" }.flatMap { $0.all("text") }.map(\.text)
    }
}

/// The cells of the `<table data-table="id">`, row by row (header included).
func tableCells(_ html: String, id: String) -> [[String]] {
    guard let s = html.range(of: "<table data-table=\"\(id)\">"),
          let e = html.range(of: "</table>", range: s.lowerBound..<html.endIndex) else { return [] }
    guard let root = XMLTree.parse(String(html[s.lowerBound..<e.upperBound])) else { return [] }
    func flat(_ n: XMLNode) -> String { n.text + n.children.map(flat).joined() }
    return root.all("tr").map { tr in tr.children.map(flat) }
}
