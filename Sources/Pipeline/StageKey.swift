import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A stage ready to be keyed and run: its key record and the argv still missing staging paths.
struct PreparedStage {
    enum Part { case text(String), own(String) }
    var stage: StageInstance
    var record: KeyRecord
    var key: String
    var executable: String
    var argv: [[Part]]
    /// The variables set for the command (the file's and the stage's `environment:` in effect).
    var environment: [String: String] = [:]

    func arguments(staging: String) -> [String] {
        argv.map { parts in
            parts.map { p -> String in
                switch p {
                case .text(let t): return t
                case .own(let n): return staging + "/" + n
                }
            }.joined()
        }
    }
}

/// Builds key records: resolves executables and digests inputs (both stat-cached).
final class StageKeyer {
    let plan: Plan
    let store: CacheStore
    let toolDirectory: String?
    /// The runner's environment and this machine's CPU flags, against which each stage's
    /// `environment:` (the file's, with the stage's own over it) is resolved; part of every key.
    let processEnvironment: [String: String]
    let cpuFlags: Set<String>?
    private let cacheRootAbsolute: String
    private var resolved: [String: String] = [:]

    init(plan: Plan, store: CacheStore, toolDirectory: String?, processEnvironment: [String: String], cpuFlags: Set<String>?) {
        self.plan = plan
        self.store = store
        self.toolDirectory = toolDirectory
        self.processEnvironment = processEnvironment
        self.cpuFlags = cpuFlags
        cacheRootAbsolute = StageKeyer.absolute(store.root)
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }

    /// Executable lookup: a path as given, else beside the running `mscn`, else on PATH.
    func resolveExecutable(_ name: String) throws -> String {
        if let r = resolved[name] { return r }
        var candidates: [String] = []
        if name.contains("/") {
            candidates = [StageKeyer.absolute(name)]
        } else {
            if let toolDirectory { candidates.append(toolDirectory + "/" + name) }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            candidates += path.split(separator: ":").map { "\($0)/\(name)" }
        }
        for c in candidates {
            var st = stat()
            if stat(c, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(c, X_OK) == 0 {
                let abs = StageKeyer.absolute(c)
                resolved[name] = abs
                return abs
            }
        }
        let places = name.contains("/") ? "" : " (looked beside mscn\(toolDirectory.map { " in \($0)" } ?? "") and on PATH)"
        throw PipelineError("executable '\(name)' not found\(places)")
    }

    /// Digest placeholder for an input whose producer is stale (only in `allowPending` records).
    static let pending = "pending (its stage is stale)"

    /// The key record of `stage`, given the index entries of the stages it reads. With
    /// `allowPending`, missing inputs get a placeholder digest, for explaining only.
    func prepare(_ stage: StageInstance, inputs done: [String: IndexEntry], allowPending: Bool = false) throws -> PreparedStage {
        guard case .text(let exeWord)? = stage.words.first?.first else {
            throw PipelineError("stage '\(stage.name)': the first command word must be an executable")
        }
        let exe = try resolveExecutable(exeWord)
        var st = stat()
        guard stat(exe, &st) == 0 else { throw PipelineError("\(exe): cannot stat executable") }
        let exeDigest = try store.statCache.digest(of: exe, stat: st)

        var symbolic: [String] = []
        var argv: [[PreparedStage.Part]] = []
        var inputs: [String: String] = [:]
        func output(_ s: String, _ o: String) throws -> String {
            guard let rec = done[s]?.outputs[o] else {
                if allowPending { inputs["\(s).\(o)"] = StageKeyer.pending; return "" }
                throw PipelineError("stage '\(stage.name)': output \(s).\(o) is not available")
            }
            inputs["\(s).\(o)"] = rec.digest
            return StageKeyer.absolute(store.objectPath(rec.digest, o))
        }
        for (i, word) in stage.words.enumerated() {
            if word.count == 1, case .list(let family, let o) = word[0] {
                for m in plan.families[family] ?? [] {
                    argv.append([.text(try output(m, o))])
                    symbolic.append("${\(m).\(o)}")
                }
                continue
            }
            var sym = "", parts: [PreparedStage.Part] = [], plain = true
            for p in word {
                switch p {
                case .text(let t): sym += t; parts.append(.text(t))
                case .ref(let s, let o): sym += "${\(s).\(o)}"; parts.append(.text(try output(s, o))); plain = false
                case .own(let n): sym += "${out.\(n)}"; parts.append(.own(n)); plain = false
                case .list: throw PipelineError("stage '\(stage.name)': a @* list must be a whole word")
                }
            }
            if i == 0 { parts = [.text(exe)] }
            if plain && i > 0 { try externalInput(sym, into: &inputs) }
            symbolic.append(sym)
            argv.append(parts)
        }
        let params = Dictionary(uniqueKeysWithValues: plan.params.filter { stage.usedParams.contains($0.name) }.map { ($0.name, $0.value) })
        var record = KeyRecord(command: symbolic, executableDigest: exeDigest, executablePath: exe, inputs: inputs,
                               outputs: Dictionary(stage.outputs.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a }),
                               params: params)
        let environment = environment(of: stage)
        let keyed = environment.keyed
        record.environment = keyed.isEmpty ? nil : keyed
        return PreparedStage(stage: stage, record: record, key: record.key, executable: exe, argv: argv,
                             environment: environment.values)
    }

    /// The file's `environment:` with the stage's own over it, resolved here.
    func environment(of stage: StageInstance) -> StageEnvironment {
        let own = Set(stage.environment.map(\.name))
        let declared = plan.file.environment.filter { !own.contains($0.name) } + stage.environment
        return StageEnvironment.resolve(declared: declared, process: processEnvironment, cpuFlags: cpuFlags)
    }

    /// A word naming an existing file or folder outside the cache contributes its content digest.
    private func externalInput(_ word: String, into inputs: inout [String: String]) throws {
        var candidates: [String] = []
        if word.contains("/") { candidates.append(word) }
        if let eq = word.firstIndex(of: "=") {
            let rest = String(word[word.index(after: eq)...])
            if rest.contains("/") { candidates.append(rest) }
        }
        for c in candidates {
            let abs = StageKeyer.absolute(c)
            guard access(abs, F_OK) == 0, abs != cacheRootAbsolute, !abs.hasPrefix(cacheRootAbsolute + "/") else { continue }
            inputs[c] = try store.statCache.digest(ofPath: abs).1
        }
    }
}
