import Foundation

/// What a stage asks of a cluster node: CPUs, memory and a time limit. Only cluster executors
/// read it, and it is not part of the stage key (it does not change what a stage computes).
///
/// In a pipeline file, a `resources:` mapping at the top is the default of every stage; a stage's
/// own `resources:` overrides it field by field:
///
/// ```yaml
/// resources: {cpus: 1, mem: 2G, time: "30:00"}
/// stages:
///   train:
///     resources: {cpus: 2, mem: 8G, time: "2:00:00"}
/// ```
public struct StageResources: Equatable, Sendable {
    /// CPUs per task (`sbatch --cpus-per-task`).
    public var cpus: Int?
    /// Memory per node in SLURM's notation: digits with an optional K, M, G or T (`--mem`).
    public var mem: String?
    /// Time limit in SLURM's notation: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S` (`--time`).
    public var time: String?

    public init(cpus: Int? = nil, mem: String? = nil, time: String? = nil) {
        self.cpus = cpus
        self.mem = mem
        self.time = time
    }

    public var isEmpty: Bool { cpus == nil && mem == nil && time == nil }

    /// Fields of `self`, with those it leaves open taken from `fallback`.
    public func over(_ fallback: StageResources?) -> StageResources {
        guard let fallback else { return self }
        return StageResources(cpus: cpus ?? fallback.cpus, mem: mem ?? fallback.mem, time: time ?? fallback.time)
    }

    /// Checks a value of `field` as written in a pipeline file or on the command line; the
    /// error names the field and the accepted forms.
    public static func check(_ field: String, _ value: String) throws {
        switch field {
        case "cpus":
            guard let n = Int(value), n >= 1 else { throw PipelineError("resources cpus must be a whole number ≥ 1, got '\(value)'") }
        case "mem":
            guard value.range(of: #"^[0-9]+[KMGTkmgt]?$"#, options: .regularExpression) != nil else {
                throw PipelineError("resources mem must be digits with an optional K, M, G or T (like 8G), got '\(value)'")
            }
        case "time":
            guard value.range(of: #"^([0-9]+-)?[0-9]+(:[0-9]{1,2}){0,2}$"#, options: .regularExpression) != nil else {
                throw PipelineError("resources time must be M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (like 2:00:00), got '\(value)'")
            }
        default:
            throw PipelineError("unknown resource '\(field)' (allowed: cpus, mem, time)")
        }
    }

    /// Builds resources from `field → value` pairs, checking each.
    public static func parse(_ pairs: [(String, String)]) throws -> StageResources {
        var r = StageResources()
        for (k, v) in pairs {
            try check(k, v)
            switch k {
            case "cpus": r.cpus = Int(v)
            case "mem": r.mem = v.uppercased()
            default: r.time = v
            }
        }
        return r
    }
}
