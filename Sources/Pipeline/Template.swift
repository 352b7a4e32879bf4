import Foundation

/// A part of a substituted word: literal text, or a path known only at run time.
public enum Piece: Hashable, Sendable {
    case text(String)
    /// An output of another stage instance (a dependency).
    case ref(stage: String, output: String)
    /// An output of the stage being run (a path in its staging folder).
    case own(String)
    /// Every instance of a foreach family's output, as separate words.
    case list(family: String, output: String)
}

/// Splits a command string into word templates (see the format notes in PipelineFile.swift).
enum CommandWords {
    static func split(_ s: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var braceDepth = 0
        var chars = Array(s)[...]
        while let c = chars.popFirst() {
            if braceDepth > 0 {
                current.append(c)
                if c == "{" { braceDepth += 1 } else if c == "}" { braceDepth -= 1 }
                continue
            }
            if c == "$", chars.first == "{" {
                current.append(c)
                current.append(chars.removeFirst())
                braceDepth = 1
                inWord = true
                continue
            }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\", q == "\"", let n = chars.popFirst() { current.append(n) } else { current.append(c) }
                continue
            }
            switch c {
            case "'", "\"": quote = c; inWord = true
            case "\\":
                guard let n = chars.popFirst() else { throw PipelineError("command ends with a lone backslash: \(s)") }
                current.append(n); inWord = true
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(c); inWord = true
            }
        }
        if quote != nil { throw PipelineError("unterminated quote in command: \(s)") }
        if braceDepth > 0 { throw PipelineError("unterminated ${ in command: \(s)") }
        if inWord { words.append(current) }
        return words
    }
}

/// Evaluates `${…}` templates against parameters, a foreach variable and the known stages.
final class Evaluator {
    let params: [String: String]
    /// Instance name → its outputs; nil while stage names are still being expanded.
    let instances: [String: [String: OutputKind]]?
    let families: [String: [String]]
    var vars: [String: String] = [:]
    var own: Set<String>?
    private(set) var usedParams: Set<String> = []
    private var paramStack: [String] = []

    init(params: [String: String], instances: [String: [String: OutputKind]]?, families: [String: [String]]) {
        self.params = params
        self.instances = instances
        self.families = families
    }

    func resetUsage() { usedParams = [] }

    /// The pieces of `template`, adjacent text merged.
    func evaluate(_ template: String) throws -> [Piece] {
        var out: [Piece] = []
        func add(_ p: Piece) {
            if case .text(let t) = p, case .text(let prev)? = out.last { out[out.count - 1] = .text(prev + t) } else { out.append(p) }
        }
        var chars = Array(template)[...]
        while let c = chars.popFirst() {
            guard c == "$" else { add(.text(String(c))); continue }
            if chars.first == "$" { chars.removeFirst(); add(.text("$")); continue }
            guard chars.first == "{" else { add(.text("$")); continue }
            chars.removeFirst()
            var depth = 1
            var inner = ""
            while depth > 0 {
                guard let d = chars.popFirst() else { throw PipelineError("unterminated ${ in '\(template)'") }
                if d == "{" { depth += 1 } else if d == "}" { depth -= 1; if depth == 0 { break } }
                inner.append(d)
            }
            for p in try expression(try text(inner)) { add(p) }
        }
        return out
    }

    /// `template` substituted to plain text; a stage output reference is an error here.
    func text(_ template: String) throws -> String {
        var s = ""
        for p in try evaluate(template) {
            guard case .text(let t) = p else {
                throw PipelineError("'\(template)' must be plain text here, but it refers to a stage output")
            }
            s += t
        }
        return s
    }

    private func expression(_ raw: String) throws -> [Piece] {
        let s = raw.trimmingCharacters(in: .whitespaces)
        if let q = s.firstIndex(of: "?"), !s.hasPrefix("'") {
            let rest = s[s.index(after: q)...]
            guard let colon = rest.firstIndex(of: ":") else { throw PipelineError("'${\(s)}': a '?' needs a ':'") }
            let chosen = try condition(String(s[..<q])) ? rest[..<colon] : rest[rest.index(after: colon)...]
            return try expression(String(chosen))
        }
        return try atom(s)
    }

    private func condition(_ c: String) throws -> Bool {
        guard let m = c.range(of: #"==|!=|<=|>=|<|>"#, options: .regularExpression) else {
            throw PipelineError("'\(c)' is not a comparison (use == != < <= > >=)")
        }
        let op = String(c[m])
        let l = try atomText(String(c[..<m.lowerBound])), r = try atomText(String(c[m.upperBound...]))
        if let a = Self.number(l), let b = Self.number(r) {
            switch op {
            case "==": return a == b
            case "!=": return a != b
            case "<": return a < b
            case "<=": return a <= b
            case ">": return a > b
            default: return a >= b
            }
        }
        switch op {
        case "==": return l == r
        case "!=": return l != r
        default: throw PipelineError("'\(c)': \(op) compares numbers only")
        }
    }

    /// A decimal number as parameters write them (`3`, `-1`, `0.7`, `0.0`), nothing else: words
    /// such as `nan` or `inf` stay text.
    private static func number(_ text: String) -> Double? {
        guard text.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil else { return nil }
        return Double(text)
    }

    private func atomText(_ s: String) throws -> String {
        let pieces = try atom(s.trimmingCharacters(in: .whitespaces))
        if pieces.isEmpty { return "" }
        guard pieces.count == 1, case .text(let t) = pieces[0] else {
            throw PipelineError("'\(s)' must be plain text in a comparison or arithmetic")
        }
        return t
    }

    private func atom(_ s: String) throws -> [Piece] {
        if s.count >= 2, s.hasPrefix("'"), s.hasSuffix("'") { return [.text(String(s.dropFirst().dropLast()))] }
        if Self.number(s) != nil { return [.text(s)] }
        if let m = s.range(of: #"^([A-Za-z_][A-Za-z0-9_]*|-?[0-9]+)\s*([+-])\s*([0-9]+)$"#, options: .regularExpression),
           m.lowerBound == s.startIndex {
            let opIndex = s.lastIndex(where: { $0 == "+" || $0 == "-" }) ?? s.endIndex
            let lhs = try atomText(String(s[..<opIndex]))
            guard let a = Int(lhs), let b = Int(s[s.index(after: opIndex)...].trimmingCharacters(in: .whitespaces)) else {
                throw PipelineError("'${\(s)}': arithmetic needs integers, got '\(lhs)'")
            }
            return [.text(String(s[opIndex] == "+" ? a + b : a - b))]
        }
        if s.hasPrefix("out.") {
            let name = String(s.dropFirst(4))
            guard let own else { throw PipelineError("'${\(s)}' is only allowed in a stage command") }
            guard own.contains(name) else {
                throw PipelineError("'${\(s)}': the stage declares no output '\(name)' (outputs: \(own.sorted().joined(separator: ", ")))")
            }
            return [.own(name)]
        }
        if let dot = s.firstIndex(of: ".") {
            let stage = String(s[..<dot]), output = String(s[s.index(after: dot)...])
            guard let instances else { throw PipelineError("'${\(s)}': stage outputs cannot be used here") }
            if stage.hasSuffix("@*") {
                let family = String(stage.dropLast(2))
                guard let members = families[family] else { throw PipelineError("'${\(s)}': no stage family '\(family)'") }
                for m in members where instances[m]?[output] == nil {
                    throw PipelineError("'${\(s)}': stage '\(m)' has no output '\(output)'")
                }
                return [.list(family: family, output: output)]
            }
            guard let outs = instances[stage] else { throw PipelineError("'${\(s)}': no stage named '\(stage)'") }
            guard outs[output] != nil else {
                throw PipelineError("'${\(s)}': stage '\(stage)' has no output '\(output)' (outputs: \(outs.keys.sorted().joined(separator: ", ")))")
            }
            return [.ref(stage: stage, output: output)]
        }
        if let v = vars[s] { return [.text(v)] }
        if let p = params[s] {
            guard !paramStack.contains(s) else {
                throw PipelineError("parameter cycle: \((paramStack + [s]).joined(separator: " → "))")
            }
            usedParams.insert(s)
            paramStack.append(s)
            defer { paramStack.removeLast() }
            return try evaluate(p)
        }
        throw PipelineError("'${\(s)}': unknown name '\(s)' (not a parameter, variable or stage output)")
    }
}
