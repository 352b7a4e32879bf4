import Foundation

/// Everything a stage's result depends on. The key is the digest of the fields that decide the
/// result; `executablePath` and `params` are kept only so `explain` can say what changed.
public struct KeyRecord: Codable, Equatable, Sendable {
    public var format: Int = 1
    /// The command with run-time paths written symbolically (`${stage.output}`, `${out.name}`).
    public var command: [String]
    public var executableDigest: String
    public var executablePath: String
    /// `stage.output` or an external path → content digest.
    public var inputs: [String: String]
    public var outputs: [String: OutputKind]
    public var params: [String: String]
    /// The `environment:` values in effect for the stage, the file's with the stage's own over
    /// them, without the speed-only ones (`StageEnvironment.keyed`); nil when there are none,
    /// which keeps the keys of such stages as they were.
    public var environment: [String: String]?

    /// Another stage's output enters the key by its content, not its stage's name: `${s.o}` is
    /// keyed as `${=<digest>.o}`. Two stages (of one pipeline or of two) that run the same command
    /// on the same content share a key whatever they are called, e.g. the oracle's rounds at
    /// noise 0 and the standard pipeline's. The record keeps the names, for `explain`.
    public var key: String {
        var references: [(name: String, content: String)] = []
        var keyedInputs: [String: String] = [:]
        for (k, v) in inputs {
            let reference = "${\(k)}"
            if let dot = k.firstIndex(of: "."), command.contains(where: { $0.contains(reference) }) {
                let content = "=\(v)\(k[dot...])"
                references.append((reference, "${\(content)}"))
                keyedInputs[content] = v
            } else {
                keyedInputs[k] = v
            }
        }
        var text = "format \(format)\n"
        for w in command {
            var word = w
            for r in references where word.contains(r.name) { word = word.replacingOccurrences(of: r.name, with: r.content) }
            text += "word \(word.count):\(word)\n"
        }
        text += "exe \(executableDigest)\n"
        for (k, v) in keyedInputs.sorted(by: { $0.key < $1.key }) { text += "in \(k.count):\(k) \(v)\n" }
        for (k, v) in outputs.sorted(by: { $0.key < $1.key }) { text += "out \(k) \(v.rawValue)\n" }
        for (k, v) in (environment ?? [:]).sorted(by: { $0.key < $1.key }) { text += "env \(k.count):\(k) \(v.count):\(v)\n" }
        return ContentDigest.of(text)
    }

    /// Field-by-field differences from `old` to `self`, one line each.
    public func differences(from old: KeyRecord) -> [String] {
        var lines: [String] = []
        func short(_ d: String) -> String { d.count == 64 ? String(d.prefix(12)) : d }
        func mapDiff(_ label: String, _ a: [String: String], _ b: [String: String], _ show: (String) -> String) {
            for k in Set(a.keys).union(b.keys).sorted() {
                switch (a[k], b[k]) {
                case let (x?, y?) where x != y: lines.append("\(label) \(k): \(show(x)) → \(show(y))")
                case let (x?, nil): lines.append("\(label) \(k): removed (was \(show(x)))")
                case let (nil, y?): lines.append("\(label) \(k): added (\(show(y)))")
                default: break
                }
            }
        }
        if format != old.format { lines.append("record format: \(old.format) → \(format)") }
        mapDiff("param", old.params, params) { $0 }
        if executableDigest != old.executableDigest {
            let moved = executablePath != old.executablePath ? " (\(old.executablePath) → \(executablePath))" : " (\(executablePath))"
            lines.append("binary: \(short(old.executableDigest)) → \(short(executableDigest))\(moved)")
        }
        mapDiff("environment", old.environment ?? [:], environment ?? [:]) { $0 }
        mapDiff("input", old.inputs, inputs, short)
        if command != old.command {
            if command.count == old.command.count {
                for (i, (a, b)) in zip(old.command, command).enumerated() where a != b {
                    lines.append("command word \(i): \(a) → \(b)")
                }
            } else {
                lines.append("command: \(old.command.joined(separator: " ")) → \(command.joined(separator: " "))")
            }
        }
        mapDiff("output", old.outputs.mapValues(\.rawValue), outputs.mapValues(\.rawValue)) { $0 }
        return lines
    }
}
