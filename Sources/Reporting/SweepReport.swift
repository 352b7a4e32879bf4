import Foundation
import Retrieval

/// The HTML report of a sweep: R@K and rSum against the swept parameter for every method, with
/// ± one standard deviation as error bars, the results table, and links to each run's report.
public enum SweepReport {
    public static func render(table: SweepTable, runs: [SweepRun], title: String, reportDirectory: String?, notes: [String] = []) -> String {
        var page = HTMLPage(title: title, subtitle: "methods: " + table.methods.joined(separator: " vs "))
        page.section("figures", "Recall against \(xKey(table) ?? "grid point")", figures(table))
        var t = "<p>Mean ± sample standard deviation over each grid point's replicates (n runs), test split.</p>"
        let tt = table.textTable()
        t += HTMLPage.table(tt.header.map(escapeXML), tt.rows.map { $0.map(escapeXML) }, id: "sweep", numericFrom: tt.numericFrom)
        for n in notes { t += HTMLPage.warning(n) }
        page.section("table", "Results table", t)
        page.section("runs", "Runs", runList(runs, from: reportDirectory))
        return page.render()
    }

    /// The swept axis to put on x: `noise` when swept, else the first axis with numeric values.
    static func xKey(_ t: SweepTable) -> String? {
        if t.keys.contains("noise") { return "noise" }
        return t.keys.first { k in t.rows.allSatisfy { r in r.point.first { $0.name == k }.flatMap { Double($0.value) } != nil } }
    }

    static let styles: [(color: String, dash: String?, marker: Series.Marker)] = [
        (Palette.blue, nil, .circle), (Palette.vermillion, "6 3", .square), (Palette.green, "2 3", .triangle),
        (Palette.orange, nil, .square), (Palette.purple, "6 3", .circle), (Palette.sky, "2 3", .triangle),
    ]

    static func figures(_ t: SweepTable) -> String {
        let x = xKey(t)
        let others = t.keys.filter { $0 != x }
        // One line per method and per combination of the other swept axes.
        var groups: [String] = []
        for r in t.rows {
            let g = r.point.filter { $0.name != x }.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            if !groups.contains(g) { groups.append(g) }
        }
        func xValue(_ i: Int) -> Double {
            guard let x, let v = t.rows[i].point.first(where: { $0.name == x }).flatMap({ Double($0.value) }) else { return Double(i) }
            return v
        }
        var ticks: [(Double, String)]? = nil
        if x == nil { ticks = t.rows.indices.map { (Double($0), t.rows[$0].point.map(\.value).joined(separator: "/")) } }
        var out = "<div class=\"grid\">"
        let panels = [("i2t_r1", "Image→text R@1"), ("i2t_r5", "Image→text R@5"), ("i2t_r10", "Image→text R@10"),
                      ("t2i_r1", "Text→image R@1"), ("t2i_r5", "Text→image R@5"), ("t2i_r10", "Text→image R@10"), ("rsum", "rSum")]
        for (key, name) in panels {
            var series: [Series] = []
            var s = 0
            for m in t.methods {
                for g in groups {
                    let idx = t.rows.indices.filter { i in
                        t.rows[i].point.filter { $0.name != x }.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") == g
                    }.sorted { xValue($0) < xValue($1) }
                    let st = styles[s % styles.count]
                    s += 1
                    series.append(Series(label: m + (others.isEmpty ? "" : " (\(g))"), color: st.color,
                                         points: idx.map { (xValue($0), t.rows[$0].cells[m]?.mean[key]) }, dash: st.dash, marker: st.marker,
                                         errors: idx.map { t.rows[$0].cells[m]?.std[key] ?? 0 }))
                }
            }
            var c = Chart(id: "sweep-\(key)", title: name, xLabel: x.map { $0 == "noise" ? "noise ratio" : $0 } ?? "grid point",
                          yLabel: key == "rsum" ? "rSum (sum of six R@K, %)" : "recall (%)", series: series)
            c.width = 380
            c.height = 300
            if let ticks { c.xTicks = ticks } else {
                let xs = Set(t.rows.indices.map(xValue)).sorted()
                if xs.count <= 8 { c.xTicks = xs.map { ($0, Fmt.tick($0)) } }
                let span = (xs.last ?? 1) - (xs.first ?? 0)
                let pad = span > 0 ? span * 0.08 : 0.1
                c.xDomain = ((xs.first ?? 0) - pad, (xs.last ?? 1) + pad)
            }
            out += "<figure>\(c.svg())</figure>\n"
        }
        out += "</div><p>Points: mean over replicates; bars: ± one sample standard deviation (absent with a single run).</p>"
        return out
    }

    static func runList(_ runs: [SweepRun], from dir: String?) -> String {
        let rows = runs.map { r -> [String] in
            let grid = r.grid.keys.sorted().map { "\($0)=\(r.grid[$0] ?? "")" }.joined(separator: " ")
            var link = "–"
            if let f = r.folder {
                let target = f + "/report.html"
                let href = dir.map { relativePath(from: $0, to: target) } ?? target
                link = FileManager.default.fileExists(atPath: target)
                    ? "<a href=\"\(escapeXML(href))\">\(escapeXML((f as NSString).lastPathComponent))</a>"
                    : escapeXML((f as NSString).lastPathComponent) + " (no report)"
            }
            return [escapeXML(r.method), escapeXML(grid), link, r.metrics.map { Fmt.f($0.rsum) } ?? "failed"]
        }
        return HTMLPage.table(["method", "parameters", "run", "test rSum"], rows, id: "sweep-runs", numericFrom: 3)
    }

    /// `to` relative to the folder `from` (both made absolute), for links that survive moving the data folder.
    static func relativePath(from: String, to: String) -> String {
        func parts(_ p: String) -> [String] {
            let abs = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
            return URL(fileURLWithPath: abs).standardizedFileURL.pathComponents.filter { $0 != "/" }
        }
        let a = parts(from), b = parts(to)
        var i = 0
        while i < a.count, i < b.count, a[i] == b[i] { i += 1 }
        return (Array(repeating: "..", count: a.count - i) + b[i...]).joined(separator: "/")
    }
}
