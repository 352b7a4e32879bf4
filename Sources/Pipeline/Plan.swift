import Foundation

/// One concrete stage after foreach expansion, with its command still symbolic.
public struct StageInstance: Sendable {
    public var name: String
    public var family: String
    public var words: [[Piece]]
    public var outputs: [(name: String, kind: OutputKind)]
    /// Stage instances whose outputs this one reads, in order of first mention.
    public var dependencies: [String]
    public var usedParams: [String]
    public var onDemand: Bool
    public var echoStdout: Bool
    /// The stage's resources over the file's default (empty when neither sets any).
    public var resources: StageResources = StageResources()
    /// The stage's own `environment:`, substituted; variables whose value came out empty are left out.
    public var environment: [(name: String, value: String)] = []
    /// `priority: background` (`StageSpec.background`).
    public var background = false
}

/// A pipeline file with parameters applied: every stage instance in dependency order.
public struct Plan: Sendable {
    public var file: PipelineFile
    /// Effective parameter values (templates), in declaration order.
    public var params: [(name: String, value: String)]
    /// The `--set` overrides, as given.
    public var overrides: [(name: String, value: String)]
    /// Topologically sorted; ties keep the file's order.
    public var stages: [StageInstance]
    public var index: [String: Int]
    public var families: [String: [String]]
    public var publish: [(name: String, stage: String, output: String)]

    public init(file: PipelineFile, overrides: [(name: String, value: String)]) throws {
        self.file = file
        self.overrides = overrides
        var values = Dictionary(file.params.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        for (k, v) in overrides {
            guard values[k] != nil else {
                throw PipelineError("\(file.source): unknown parameter '\(k)' (parameters: \(file.params.map(\.name).joined(separator: ", ")))")
            }
            values[k] = v
        }
        params = file.params.map { ($0.name, values[$0.name] ?? $0.value) }

        // Phase 1: names and outputs of every instance (ranges and names are plain text).
        let naming = Evaluator(params: values, instances: nil, families: [:])
        var expanded: [(spec: StageSpec, name: String, vars: [String: String])] = []
        var outputs: [String: [String: OutputKind]] = [:]
        var families: [String: [String]] = [:]
        for spec in file.stages {
            func fail(_ e: Error) -> PipelineError { PipelineError("\(file.source):\(spec.line): stage '\(spec.family)': \(e)") }
            var items: [(String, [String: String])] = []
            do {
                if let v = spec.foreachVariable {
                    for value in try Plan.foreachValues(spec, naming) {
                        naming.vars = [v: value]
                        items.append((try naming.text(spec.nameTemplate ?? "\(spec.family)@${\(v)}"), [v: value]))
                    }
                    naming.vars = [:]
                } else {
                    items.append((spec.family, [:]))
                }
            } catch { throw fail(error) }
            if families[spec.family] == nil { families[spec.family] = [] }
            for (name, vars) in items {
                guard name.range(of: #"^[A-Za-z0-9_@+-]+$"#, options: .regularExpression) != nil else {
                    throw fail(PipelineError("instance name '\(name)' may use only letters, digits and _ @ + -"))
                }
                guard outputs[name] == nil else { throw fail(PipelineError("two stages are named '\(name)'")) }
                outputs[name] = Dictionary(spec.outputs.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
                families[spec.family, default: []].append(name)
                expanded.append((spec, name, vars))
            }
        }
        self.families = families

        // Phase 2: commands, with stage outputs known.
        let eval = Evaluator(params: values, instances: outputs, families: families)
        var unsorted: [StageInstance] = []
        for (spec, name, vars) in expanded {
            eval.vars = vars
            eval.own = Set(spec.outputs.map(\.name))
            eval.resetUsage()
            var words: [[Piece]] = []
            var environment: [(name: String, value: String)] = []
            var deps: [String] = []
            func depend(_ d: String) throws {
                guard d != name else { throw PipelineError("stage '\(name)' reads its own output") }
                if !deps.contains(d) { deps.append(d) }
            }
            do {
                for w in spec.commandWords {
                    let pieces = try eval.evaluate(w)
                    for p in pieces {
                        switch p {
                        case .ref(let s, _): try depend(s)
                        case .list(let f, _):
                            guard pieces.count == 1 else { throw PipelineError("'\(w)': a @* list must be a whole word") }
                            for m in families[f] ?? [] { try depend(m) }
                        default: break
                        }
                    }
                    // A substituted word that comes out empty is dropped, so a conditional
                    // like ${x == 1 ? '--flag' : ''} can leave an option out.
                    let empty = pieces.allSatisfy { $0 == .text("") }
                    if !(empty && w.contains("${")) { words.append(pieces) }
                }
                guard !words.isEmpty, case .text = words[0].first, words[0].count == 1 else {
                    throw PipelineError("the first command word must be an executable name or path")
                }
                for (variable, template) in spec.environment {
                    let value: String
                    do { value = try eval.text(template) } catch {
                        throw PipelineError("environment \(variable): \(error) (values take parameters, not stage outputs)")
                    }
                    if !value.isEmpty { environment.append((variable, value)) }
                }
            } catch {
                throw PipelineError("\(file.source):\(spec.line): stage '\(name)': \(error)")
            }
            unsorted.append(StageInstance(name: name, family: spec.family, words: words, outputs: spec.outputs,
                                          dependencies: deps, usedParams: eval.usedParams.sorted(),
                                          onDemand: spec.onDemand, echoStdout: spec.echoStdout,
                                          resources: (spec.resources ?? StageResources()).over(file.resources),
                                          environment: environment, background: spec.background))
        }

        eval.vars = [:]
        eval.own = nil
        publish = try file.publish.map { entry in
            let pieces: [Piece]
            do { pieces = try eval.evaluate(entry.template) } catch {
                throw PipelineError("\(file.source): publish '\(entry.name)': \(error)")
            }
            guard pieces.count == 1, case .ref(let s, let o) = pieces[0] else {
                throw PipelineError("\(file.source): publish '\(entry.name)' must be exactly one stage output, like ${stage.output}")
            }
            guard outputs[entry.name] == nil else {
                throw PipelineError("\(file.source): publish name '\(entry.name)' is also a stage name (both live in the run folder)")
            }
            return (entry.name, s, o)
        }
        stages = try Plan.topologicalOrder(unsorted, source: file.source)
        index = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.name, $0) })
    }

    static func foreachValues(_ spec: StageSpec, _ eval: Evaluator) throws -> [String] {
        if let list = spec.foreachList { return try list.map { try eval.text($0) } }
        let range = try eval.text(spec.foreachRange ?? "")
        let parts = range.components(separatedBy: "..")
        guard parts.count == 2, let a = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let b = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw PipelineError("foreach range '\(range)' must be A..B with integers")
        }
        // A..A-1 is the empty range (e.g. no rounds); further below is a mistake (epochs=-3).
        guard b >= a - 1 else { throw PipelineError("stage '\(spec.family)': foreach range '\(range)' runs backwards") }
        guard b - a < maxInstances else {
            throw PipelineError("stage '\(spec.family)': foreach range '\(range)' makes \(b - a + 1) stages, more than \(maxInstances)")
        }
        return b < a ? [] : (a...b).map(String.init)
    }

    /// Instances of one foreach stage at most: a range beyond it is a typo, and planning it would
    /// take hours before anything runs.
    static let maxInstances = 10_000

    static func topologicalOrder(_ stages: [StageInstance], source: String) throws -> [StageInstance] {
        let position = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.name, $0) })
        var remaining = stages.map { Set($0.dependencies).count }
        var dependents = [[Int]](repeating: [], count: stages.count)
        for (i, s) in stages.enumerated() {
            for d in Set(s.dependencies) { if let p = position[d] { dependents[p].append(i) } }
        }
        // A min-heap would be asymptotically nicer; pipelines have hundreds of stages, not millions.
        var ready = stages.indices.filter { remaining[$0] == 0 }
        var order: [StageInstance] = []
        while !ready.isEmpty {
            let i = ready.removeFirst()
            order.append(stages[i])
            for j in dependents[i] {
                remaining[j] -= 1
                if remaining[j] == 0 {
                    let at = ready.firstIndex(where: { $0 > j }) ?? ready.endIndex
                    ready.insert(j, at: at)
                }
            }
        }
        if order.count < stages.count {
            let stuck = stages.indices.filter { remaining[$0] > 0 }.map { stages[$0].name }
            throw PipelineError("\(source): dependency cycle among stages: \(stuck.joined(separator: ", "))")
        }
        return order
    }

    /// Indices (in run order) of the stages a run must consider: those not on demand plus
    /// published ones, or `until` (an instance or a family) — and everything they read.
    public func needed(until: String? = nil) throws -> [Int] {
        var roots: [String]
        if let until {
            if index[until] != nil { roots = [until] } else if let f = families[until] { roots = f } else {
                throw PipelineError("no stage named '\(until)' (stages: \(families.keys.sorted().joined(separator: ", ")))")
            }
        } else {
            roots = stages.filter { !$0.onDemand }.map(\.name) + publish.map(\.stage)
        }
        var keep = Set<String>()
        while let n = roots.popLast() {
            guard keep.insert(n).inserted, let i = index[n] else { continue }
            roots.append(contentsOf: stages[i].dependencies)
        }
        return stages.indices.filter { keep.contains(stages[$0].name) }
    }

    /// `indices` (a `needed` list, in run order) reordered so that of the stages ready at the same
    /// time, the one with the longest chain of stages still waiting on it starts first; ties keep
    /// run order. Still a dependency order: a stage's chain is longer than any of its dependents'.
    /// With two job slots this starts the next round's purification before the side branches
    /// (dev evaluation, regime checks) that only the end of the run waits for.
    public func longestChainFirst(_ indices: [Int]) -> [Int] {
        let included = Set(indices)
        var chain = [Int: Int]()
        for i in indices.reversed() {
            let own = chain[i, default: 1]
            chain[i] = own
            for d in Set(stages[i].dependencies) {
                guard let j = index[d], included.contains(j) else { continue }
                chain[j] = max(chain[j, default: 1], own + 1)
            }
        }
        let position = Dictionary(uniqueKeysWithValues: indices.enumerated().map { ($1, $0) })
        return indices.sorted { a, b in
            let (ca, cb) = (chain[a, default: 1], chain[b, default: 1])
            return ca != cb ? ca > cb : position[a, default: 0] < position[b, default: 0]
        }
    }
}
