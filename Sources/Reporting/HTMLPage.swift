/// A self-contained HTML page: inline CSS, inline SVG, no scripts, no external resources.
struct HTMLPage {
    var title: String
    var subtitle: String?
    private(set) var body = ""
    private var toc: [(id: String, title: String)] = []

    init(title: String, subtitle: String? = nil) {
        self.title = title
        self.subtitle = subtitle
    }

    mutating func section(_ id: String, _ heading: String, _ content: String) {
        toc.append((id, heading))
        body += "<section id=\"\(escapeXML(id))\">\n<h2>\(escapeXML(heading))</h2>\n\(content)\n</section>\n"
    }

    /// A table; `header` and `rows` are already-escaped HTML cells.
    static func table(_ header: [String], _ rows: [[String]], id: String? = nil, numericFrom: Int = 1) -> String {
        var o = "<div class=\"scroll\"><table\(id.map { " data-table=\"\(escapeXML($0))\"" } ?? "")>\n<thead><tr>"
        for (i, h) in header.enumerated() { o += "<th\(i >= numericFrom ? " class=\"num\"" : "")>\(h)</th>" }
        o += "</tr></thead>\n<tbody>\n"
        for r in rows {
            o += "<tr>"
            for (i, c) in r.enumerated() { o += "<td\(i >= numericFrom ? " class=\"num\"" : "")>\(c)</td>" }
            o += "</tr>\n"
        }
        return o + "</tbody></table></div>"
    }

    static func missing(_ what: String) -> String {
        "<p class=\"missing\">Not shown: \(escapeXML(what))</p>"
    }

    static func warning(_ text: String) -> String {
        "<p class=\"missing\">\(escapeXML(text))</p>"
    }

    static func figure(_ svg: String, caption: String) -> String {
        "<figure>\(svg)<figcaption>\(caption)</figcaption></figure>"
    }

    func render() -> String {
        var o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        o += "<title>\(escapeXML(title))</title>\n<style>\n\(Self.css)</style>\n</head>\n<body>\n"
        o += "<header><h1>\(escapeXML(title))</h1>"
        if let subtitle { o += "<p class=\"subtitle\">\(escapeXML(subtitle))</p>" }
        o += "<nav>" + toc.map { "<a href=\"#\(escapeXML($0.id))\">\(escapeXML($0.title))</a>" }.joined(separator: " · ") + "</nav></header>\n"
        o += "<main>\n" + body + "</main>\n</body>\n</html>\n"
        return o
    }

    static let css = """
    body { font-family: \(Style.font); color: #1a1a1a; background: #fafafa; margin: 0; line-height: 1.45; }
    header { background: #fff; border-bottom: 1px solid #ddd; padding: 16px 28px 10px; }
    h1 { font-size: 24px; margin: 0 0 4px; }
    h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
    h3 { font-size: 15px; margin: 18px 0 6px; }
    .subtitle { color: #555; margin: 0 0 8px; }
    nav { font-size: 13px; }
    nav a { color: #0072B2; text-decoration: none; }
    main { padding: 0 28px 40px; max-width: 1320px; }
    table { border-collapse: collapse; font-size: 13px; margin: 8px 0 14px; background: #fff; }
    th, td { border: 1px solid #d5d5d5; padding: 3px 9px; text-align: left; }
    th { background: #f0f0f0; font-weight: 600; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    tr.best td { background: #e8f3fa; font-weight: 600; }
    figure { display: inline-block; margin: 6px 14px 14px 0; vertical-align: top; width: min-content; }
    figure svg { border: 1px solid #ddd; background: #fff; }
    figcaption { font-size: 12px; color: #444; margin-top: 4px; }
    .missing { color: #8a4b00; background: #fff6e5; border-left: 4px solid #E69F00; padding: 6px 10px; font-size: 13px; }
    .grid { display: flex; flex-wrap: wrap; }
    .example { background: #fff; border: 1px solid #ddd; padding: 8px 12px; margin: 0 0 12px; }
    .example .query { font-size: 14px; margin-bottom: 6px; }
    .thumbs { display: flex; gap: 10px; }
    .thumb { text-align: center; font-size: 12px; color: #333; }
    .thumb img { display: block; border: 4px solid #ccc; image-rendering: pixelated; }
    .thumb.correct img { border-color: #009E73; }
    .thumb.correct { color: #006b4f; font-weight: 600; }
    .thumb .score { font-weight: normal; color: #555; }
    .note { font-size: 12px; color: #444; margin-top: -6px; }
    .scroll { overflow-x: auto; max-width: 100%; }
    code { font-size: 12px; background: #eee; padding: 0 3px; }

    """
}
