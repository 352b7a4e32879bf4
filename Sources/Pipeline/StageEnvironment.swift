import Foundation

/// The environment variables a pipeline file asks a stage to run with (the top-level
/// `environment:`, with the stage's own over it), resolved against the runner's own environment.
///
/// Values in the file are defaults: a variable the runner's environment already sets keeps that
/// value, so a machine's or a user's deliberate setting (say an `OPENBLAS_CORETYPE` chosen because
/// another kernel misbehaves there) is never overridden. Whatever is in effect enters every stage's
/// key, so artefacts computed under different settings never stand in for each other in a cache.
///
/// A few variables change how fast a stage runs but never what it computes (`speedOnly`, e.g.
/// how long OpenBLAS's idle threads spin): they are applied and recorded like the others but
/// stay out of the keys, so tuning them keeps every cached artefact.
///
/// The reason it exists is OpenBLAS's kernel choice: the same sgemm rounds differently under the
/// Haswell and the Cooperlake kernels, and a training run that sits near a tipping point (noise 0.7
/// on the built-in data) can end on either side. Pinning the kernel makes results bit-identical
/// across the x86-64 machines of a cluster, and on a fresh machine reproduces the published ones.
public struct StageEnvironment: Equatable, Sendable {
    /// The declared variables' values in effect (a declared variable left out was not applied).
    public var values: [String: String]
    /// One line per declared variable whose file value is not in effect, saying why.
    public var notes: [String]

    /// Variables that decide speed only, never a result bit, so they are not part of stage keys.
    /// `OPENBLAS_THREAD_TIMEOUT` (log₂ of the cycles an idle OpenBLAS thread spins before it
    /// sleeps) changes how threads wait, not how a product is split between them.
    /// `MSCN_SERIAL_BLAS=1` computes OpenBLAS's two-thread products on the calling thread with
    /// OpenBLAS's own split and kernel calls (the CBLASReplay target; `mscn blas-check`).
    public static let speedOnly: Set<String> = ["OPENBLAS_THREAD_TIMEOUT", "MSCN_SERIAL_BLAS"]

    /// The values in effect that decide results: the ones a stage key holds.
    public var keyed: [String: String] { values.filter { !Self.speedOnly.contains($0.key) } }

    public init(values: [String: String] = [:], notes: [String] = []) {
        self.values = values
        self.notes = notes
    }

    /// `declared` from the pipeline file, `process` the runner's environment, `cpuFlags` this
    /// machine's CPU feature flags (nil when unknown: no kernel is refused then).
    public static func resolve(declared: [(name: String, value: String)], process: [String: String],
                               cpuFlags: Set<String>?) -> StageEnvironment {
        var env = StageEnvironment()
        for (name, value) in declared {
            if let own = process[name] {
                env.values[name] = own
                if own != value && !speedOnly.contains(name) {
                    env.notes.append("\(name)=\(own) from the environment, not the pipeline's \(value): results may differ in the last bits from runs made with \(value)")
                }
                continue
            }
            if name == "OPENBLAS_CORETYPE", let flags = cpuFlags, let needs = kernelFlags[value.lowercased()] {
                let missing = needs.filter { !flags.contains($0) }
                if !missing.isEmpty {
                    env.notes.append("OPENBLAS_CORETYPE=\(value) not applied: this CPU lacks \(missing.joined(separator: ", ")); OpenBLAS picks its own kernels, so results may differ in the last bits from runs made with \(value)")
                    continue
                }
            }
            env.values[name] = value
        }
        return env
    }

    /// CPU flags (as /proc/cpuinfo names them) an OpenBLAS x86-64 kernel family executes; forcing
    /// one on a CPU without them ends in an illegal instruction. Unlisted names are not checked.
    static let kernelFlags: [String: [String]] = [
        "haswell": ["avx2", "fma"],
        "zen": ["avx2", "fma"],
        "skylakex": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"],
        "cooperlake": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"],
    ]

    /// This machine's CPU flags from /proc/cpuinfo's first `flags` line; nil when there is none
    /// (another OS), and empty when the CPU is not x86 (no `flags` line but a readable file).
    public static func machineCPUFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String>? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// The spawn environment: the runner's, with `values` set over it.
    func applied(to process: [String: String]) -> [String] {
        var merged = process
        for (k, v) in values { merged[k] = v }
        return merged.map { "\($0.key)=\($0.value)" }.sorted()
    }
}
