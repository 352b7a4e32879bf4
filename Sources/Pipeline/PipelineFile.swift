/// The pipeline file: a YAML description of parameters, stages and published results.
///
/// ```yaml
/// name: mscn                        # required, [A-Za-z0-9_.-]+; names the run folders
/// params:                           # optional, ordered; scalar defaults kept exactly as written
///   noise: 0.2
///   epochs: 6
///   data: "${dataset.root}"         # a default may reference a stage output (or other params)
/// stages:                           # required, ordered mapping: stage (family) name → stage
///   dataset:
///     on_demand: true               # runs only when a needed stage or publish references it
///     command: mscn dataset generate --out ${out.root}
///     outputs: {root: dir}          # output name → file | dir
///   warmup_b:
///     command: mscn-train --out ${out.ckpt} --corpus ${ingest.corpus}
///     outputs: {ckpt: file}
///   train_b:
///     foreach: {round: "1..${epochs}"}  # one variable: "A..B" (inclusive, after substitution,
///                                       # empty when B < A) or a YAML list of values
///     name: "train_b@${round}"          # optional; this is the default for a foreach stage
///     command: >-
///       mscn-train --init ${round == 1 ? warmup_b.ckpt : train_b@${round-1}.ckpt}
///       --out ${out.ckpt}
///     outputs: {ckpt: file}
///   select:
///     command: mscn select-best ${evaluate_dev@*.metrics}
///     outputs: {best: file}
///     stdout: echo                  # tee stdout to the terminal (also replayed when cached);
///                                   # default `log`: stdout and stderr go to the stage log only
///     resources: {cpus: 2, mem: 8G, time: "2:00:00"}   # on a cluster executor (StageResources)
///     priority: background          # default `normal`; see `StageSpec.background`
/// resources: {cpus: 1, time: "1:00:00"}  # optional: every stage's default on a cluster
/// environment:                      # optional: variables every stage runs with, unless the
///   OPENBLAS_CORETYPE: Haswell      # runner's environment sets them; in every key (StageEnvironment)
///   OPENBLAS_THREAD_TIMEOUT: "12"   # except the few that only change speed (`speedOnly`)
///                                   # A stage may add its own `environment:` (values are templates:
///                                   # `MSCN_THREADS: "${warmup_threads}"`; an empty value sets nothing).
/// publish:                          # optional: run-folder entry name → one stage output
///   metrics.json: "${evaluate_test.metrics}"
/// ```
///
/// Substitution `${EXPR}` works in commands, parameter values, `foreach` ranges, `name` and
/// `publish`. Inner `${…}` are substituted first (to plain text), then EXPR is one of:
/// - `out.NAME`: path of this stage's declared output NAME (inside a fresh staging folder);
/// - `VAR`, `VAR+N`, `VAR-N`: the foreach variable, with integer arithmetic;
/// - `PARAM`: a parameter's effective value (itself substituted, so it may reference outputs);
/// - `STAGE.OUTPUT`: the path of another stage instance's output; this makes a dependency;
/// - `FAMILY@*.OUTPUT`: every instance of a foreach stage, in order, as separate words
///   (must be a whole command word);
/// - `A OP B ? X : Y` with OP one of `== != < <= > >=` (decimal numbers compare numerically, so `0 == 0.0`; other
///   text only with == and !=); X and Y are expressions, `'text'` is a literal, a number (`3`, `0.5`) is one.
/// - `$$` outside an expression is a literal `$`.
///
/// `command` is a string split into words like a shell without expansion: whitespace separates
/// words, `'…'` and `"…"` group (substitution still applies inside both), `\x` escapes x, and a
/// `${…}` is never split. It may also be a YAML list of words. A word with a `${…}` that
/// substitutes to empty text is dropped: `${ckpt == '' ? '' : '--init'}` omits an option. The stage runs without a shell,
/// in the runner's working folder. The first word names the executable: a word with `/` is a path,
/// any other is looked up beside the running `mscn` binary, then on PATH.
///
/// A word that comes only from text and parameters (no stage output) and that contains `/`
/// (or its part after the first `=`, as in `if=/x`) naming an existing file or folder outside the
/// cache is an external input: its content digest is part of the stage key. A value without `/`
/// (e.g. `builtin`) is plain text; `${data == 'builtin' ? dataset.root : data}` picks a stage
/// output or an external path, and the stage depends on `dataset` only in the first case.
///
/// Outputs: `${out.NAME}` is `<cache>/tmp/<staging>/NAME` (absolute). Nothing is created there
/// beforehand: the stage creates the file or folder. After exit 0 every declared output must
/// exist with its declared kind. An output name may carry an extension (`corpus.tsr: file`,
/// read as `${ingest.corpus.tsr}`: the stage name ends at the first `.`); readers get the path
/// `<cache>/objects/<sha256>/NAME`, read-only. `stage.log` and `stage.stdout` are reserved: the
/// run folder shows the stage's log and captured stdout under those names.
///
/// YAML note: a plain scalar cannot contain `: `, so a command using `? … : …` must be quoted or
/// written as a block scalar (`command: >-` followed by indented lines, joined with spaces).
///
/// Keys: a stage's key covers its command with stage outputs written symbolically, the SHA-256
/// of its resolved executable, the digests of the outputs it reads and of its external inputs,
/// its declared outputs, and the `environment:` values in effect. Parameters enter through the
/// command text.
import Foundation
import Yams

/// A failure in a pipeline file, its parameters or a run; one line, naming the file where known.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum OutputKind: String, Codable, Sendable { case file, dir }

/// One `stages:` entry before expansion.
public struct StageSpec: Sendable {
    public var family: String
    public var line: Int
    public var foreachVariable: String?
    /// Either a range template "A..B" or a list of value templates.
    public var foreachRange: String?
    public var foreachList: [String]?
    public var nameTemplate: String?
    public var commandWords: [String]
    public var outputs: [(name: String, kind: OutputKind)]
    public var onDemand: Bool
    public var echoStdout: Bool
    /// Cluster resources of this stage's jobs (fields it leaves open come from the file's default).
    public var resources: StageResources?
    /// `priority: background`: a side branch that only the end of the run waits for (a dev
    /// evaluation, a regime check). The local executor runs its process under SCHED_IDLE, so the
    /// stages of the chain the run waits on take the cores whenever they can use them and the side
    /// branch gets what they leave idle. Speed only: not part of the stage key; a cluster
    /// executor ignores it (each job has its own CPUs there).
    public var background = false
    /// Variables for this stage over the file's `environment:` (value templates, substituted like
    /// the command; a value that comes out empty leaves the variable out).
    public var environment: [(name: String, value: String)] = []
}

/// A parsed pipeline file.
public struct PipelineFile: Sendable {
    public var name: String
    public var source: String
    public var params: [(name: String, value: String)]
    public var stages: [StageSpec]
    public var publish: [(name: String, template: String)]
    /// The top-level `resources:`: the default of every stage on a cluster executor.
    public var resources: StageResources?
    /// The top-level `environment:`: variables every stage runs with unless the runner's own
    /// environment sets them (`StageEnvironment`), in file order.
    public var environment: [(name: String, value: String)] = []

    public static func load(path: String) throws -> PipelineFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError("\(path): cannot read pipeline file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PipelineError("\(path): pipeline file is not UTF-8 text")
        }
        return try parse(yaml: text, source: path)
    }

    public static func parse(yaml: String, source: String) throws -> PipelineFile {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw PipelineError("\(source): invalid YAML: \(error)")
        }
        let p = YAMLReader(source: source)
        guard let top = root?.mapping else { throw PipelineError("\(source): expected a mapping at the top level") }
        try p.allowKeys(top, ["name", "params", "stages", "publish", "resources", "environment"], what: "the top level")
        guard let nameNode = top["name"], let name = nameNode.scalar?.string,
              name.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) != nil else {
            throw p.error(root, "'name' must be a word of letters, digits, '_', '.', '-'")
        }
        var params: [(String, String)] = []
        if let node = top["params"] {
            for (k, v) in try p.mapping(node, "params") {
                let key = try p.scalar(k, "parameter name")
                guard key.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
                    throw p.error(k, "parameter name '\(key)' must be an identifier (letters, digits, '_')")
                }
                params.append((key, try p.scalar(v, "parameter '\(key)'")))
            }
        }
        guard let stagesNode = top["stages"] else { throw p.error(root, "missing 'stages'") }
        var stages: [StageSpec] = []
        for (k, v) in try p.mapping(stagesNode, "stages") {
            stages.append(try p.stage(name: try p.scalar(k, "stage name"), node: v))
        }
        if stages.isEmpty { throw p.error(stagesNode, "'stages' is empty: a pipeline needs at least one stage") }
        var publish: [(String, String)] = []
        if let node = top["publish"] {
            for (k, v) in try p.mapping(node, "publish") {
                let key = try p.scalar(k, "publish name")
                guard !key.contains("/"), key != "params.json", !key.hasPrefix(".") else {
                    throw p.error(k, "publish name '\(key)' must be a plain file name other than params.json")
                }
                publish.append((key, try p.scalar(v, "publish '\(key)'")))
            }
        }
        let resources = try top["resources"].map { try p.resources($0, "the top-level resources") }
        let environment = try top["environment"].map { try p.environment($0, "environment") } ?? []
        return PipelineFile(name: name, source: source, params: params, stages: stages, publish: publish,
                            resources: resources, environment: environment)
    }
}

/// Node accessors that report the file and line of a malformed entry.
private struct YAMLReader {
    var source: String

    func error(_ node: Node?, _ message: String) -> PipelineError {
        if let line = node?.mark?.line { return PipelineError("\(source):\(line): \(message)") }
        return PipelineError("\(source): \(message)")
    }

    func mapping(_ node: Node, _ what: String) throws -> [(Node, Node)] {
        guard let m = node.mapping else { throw error(node, "'\(what)' must be a mapping") }
        return m.map { ($0.key, $0.value) }
    }

    func scalar(_ node: Node, _ what: String) throws -> String {
        guard let s = node.scalar?.string else { throw error(node, "\(what) must be a single value") }
        return s
    }

    func bool(_ node: Node, _ what: String) throws -> Bool {
        switch try scalar(node, what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(node, "\(what) must be true or false")
        }
    }

    func resources(_ node: Node, _ what: String) throws -> StageResources {
        var pairs: [(String, String)] = []
        for (k, v) in try mapping(node, what) {
            let key = try scalar(k, "\(what) key")
            let value = try scalar(v, "\(what) \(key)")
            do { try StageResources.check(key, value) } catch { throw self.error(k, "\(what): \(error)") }
            pairs.append((key, value))
        }
        return try StageResources.parse(pairs)
    }

    /// An `environment:` mapping: variable name → value (a template at stage level).
    func environment(_ node: Node, _ what: String) throws -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for (k, v) in try mapping(node, what) {
            let key = try scalar(k, "\(what) variable name")
            guard key.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
                throw error(k, "\(what): variable name '\(key)' must be an identifier (letters, digits, '_')")
            }
            pairs.append((key, try scalar(v, "\(what) variable '\(key)'")))
        }
        return pairs
    }

    func allowKeys(_ m: Node.Mapping, _ allowed: Set<String>, what: String) throws {
        for (k, _) in m {
            let key = k.scalar?.string ?? "?"
            if !allowed.contains(key) {
                throw error(k, "unknown key '\(key)' in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    func stage(name: String, node: Node) throws -> StageSpec {
        guard name.range(of: #"^[A-Za-z0-9_-]+$"#, options: .regularExpression) != nil else {
            throw error(node, "stage name '\(name)' must use only letters, digits, '_', '-'")
        }
        guard let m = node.mapping else { throw error(node, "stage '\(name)' must be a mapping") }
        try allowKeys(m, ["command", "outputs", "on_demand", "foreach", "name", "stdout", "resources", "environment", "priority"],
                      what: "stage '\(name)'")
        var spec = StageSpec(family: name, line: node.mark?.line ?? 0, commandWords: [], outputs: [],
                             onDemand: false, echoStdout: false)
        guard let cmd = m["command"] else { throw error(node, "stage '\(name)' has no 'command'") }
        if let list = cmd.sequence {
            spec.commandWords = try list.map { try scalar($0, "stage '\(name)' command word") }
        } else {
            spec.commandWords = try CommandWords.split(try scalar(cmd, "stage '\(name)' command"))
        }
        if spec.commandWords.isEmpty { throw error(cmd, "stage '\(name)' has an empty command") }
        if let outs = m["outputs"] {
            for (k, v) in try mapping(outs, "stage '\(name)' outputs") {
                let out = try scalar(k, "output name")
                guard out.range(of: #"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"#, options: .regularExpression) != nil,
                      out != "stage.log", out != "stage.stdout" else {
                    throw error(k, "stage '\(name)': output name '\(out)' must be a file name (not stage.log or stage.stdout)")
                }
                guard let kind = OutputKind(rawValue: try scalar(v, "output kind")) else {
                    throw error(v, "stage '\(name)': output '\(out)' kind must be 'file' or 'dir'")
                }
                spec.outputs.append((out, kind))
            }
        }
        if let r = m["resources"] { spec.resources = try resources(r, "stage '\(name)' resources") }
        if let e = m["environment"] { spec.environment = try environment(e, "stage '\(name)' environment") }
        if let v = m["on_demand"] { spec.onDemand = try bool(v, "stage '\(name)' on_demand") }
        if let v = m["priority"] {
            switch try scalar(v, "stage '\(name)' priority") {
            case "background": spec.background = true
            case "normal": spec.background = false
            default: throw error(v, "stage '\(name)': priority must be 'normal' or 'background'")
            }
        }
        if let v = m["stdout"] {
            switch try scalar(v, "stage '\(name)' stdout") {
            case "echo": spec.echoStdout = true
            case "log": spec.echoStdout = false
            default: throw error(v, "stage '\(name)': stdout must be 'echo' or 'log'")
            }
        }
        if let fe = m["foreach"] {
            let pairs = try mapping(fe, "stage '\(name)' foreach")
            guard pairs.count == 1, let (k, v) = pairs.first else {
                throw error(fe, "stage '\(name)': foreach takes exactly one variable")
            }
            let variable = try scalar(k, "foreach variable")
            guard variable.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
                throw error(k, "stage '\(name)': foreach variable '\(variable)' must be an identifier")
            }
            spec.foreachVariable = variable
            if let list = v.sequence {
                spec.foreachList = try list.map { try scalar($0, "foreach value") }
            } else {
                spec.foreachRange = try scalar(v, "foreach range")
            }
        }
        if let n = m["name"] {
            guard spec.foreachVariable != nil else { throw error(n, "stage '\(name)': 'name' needs 'foreach'") }
            spec.nameTemplate = try scalar(n, "stage '\(name)' name")
        }
        return spec
    }
}
