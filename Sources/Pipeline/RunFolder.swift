import Foundation
import TensorFile
#if canImport(Glibc)
import Glibc
#endif

/// `runs/<name>/`: a stable, human-facing view of one parameter set's results, made of
/// relative symlinks into the object store; `runs/latest` points at the last finished run.
public enum RunFolder {
    /// Pipeline name, the `--set` parameters that are short words, and a digest of every
    /// effective parameter: `mscn-noise0.7-seed0-ab12cd`.
    public static func name(for plan: Plan) -> String {
        var parts = [plan.file.name]
        let overridden = Set(plan.overrides.map(\.name))
        for (k, v) in plan.params where overridden.contains(k) {
            if v.count <= 16, v.range(of: #"^[A-Za-z0-9._+-]+$"#, options: .regularExpression) != nil { parts.append(k + v) }
        }
        let all = plan.params.map { "\($0.name)=\($0.value)\n" }.joined()
        parts.append(String(ContentDigest.of(all).prefix(6)))
        return parts.joined(separator: "-")
    }

    /// `environment`: the pipeline's environment in effect, recorded in params.json beside the
    /// parameters (a run under another BLAS kernel has the same folder name but other results).
    static func update(plan: Plan, dataRoot: String, store: CacheStore, entries: [String: IndexEntry],
                       environment: [String: String] = [:]) throws -> String {
        let name = name(for: plan)
        let runs = dataRoot + "/runs"
        let folder = runs + "/" + name
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw PipelineError("\(folder): cannot create run folder")
        }
        // Evaluated values (`64`, not `${layout == 'precomp' ? 1024 : 64}`), so `runs`/`diff` and
        // reports compare what ran; a value that names a stage output keeps its template.
        let values = Dictionary(plan.params.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        let evaluator = Evaluator(params: values, instances: nil, families: [:])
        var params: [String: String] = [:]
        for (k, v) in plan.params { params[k] = (try? evaluator.text("${\(k)}")) ?? v }
        var info: [String: Any] = ["pipeline": plan.file.source, "params": params,
                                   "overrides": Dictionary(plan.overrides.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })]
        if !environment.isEmpty { info["environment"] = environment }
        if let data = try? JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys]),
           FileManager.default.contents(atPath: folder + "/params.json") != data {
            try AtomicWrite.write(data, to: folder + "/params.json")
        }
        for (stage, e) in entries {
            let dir = folder + "/" + stage
            if access(dir, F_OK) != 0 { mkdir(dir, 0o755) }
            var links = e.outputs.map { ($0.key, "../../../cache/objects/\($0.value.digest)/\($0.key)") }
            if let log = e.log { links.append(("stage.log", "../../../cache/objects/\(log)/log")) }
            if let out = e.stdout { links.append(("stage.stdout", "../../../cache/objects/\(out)/stdout")) }
            for (n, target) in links { try link(dir + "/" + n, to: target) }
        }
        for p in plan.publish {
            guard let o = entries[p.stage]?.outputs[p.output] else { continue }
            try link(folder + "/" + p.name, to: "../../cache/objects/\(o.digest)/\(p.output)")
        }
        try link(runs + "/latest", to: name)
        return folder
    }

    /// Points `path` at `target`, replacing any older link in one rename.
    static func link(_ path: String, to target: String) throws {
        if let current = try? FileManager.default.destinationOfSymbolicLink(atPath: path), current == target { return }
        let tmp = (path as NSString).deletingLastPathComponent + "/.link-\(getpid())-\(UUID().uuidString.prefix(8))"
        guard symlink(target, tmp) == 0 else { throw PipelineError("\(tmp): cannot create symlink") }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw PipelineError("\(path): cannot replace (\(String(cString: strerror(errno))))")
        }
    }
}
