import TensorFile

/// The `opt` namespace of an official checkpoint: the options the official code's `opt.py` parser
/// defines, in the types that parser gives them, plus the ones its scripts add (`vocab_size`, set by
/// `main_MSCN.py` from the vocabulary; `meta_net_hidden_size` and `meta_net_num_layers`, which
/// `evaluation_meta.evalrank` reads though `opt.py` does not define them).
///
/// `--opt KEY=VALUE` is typed by that table, so `data_name=2017` stays the string Python's parser
/// would have made of it and `batch_size=3.5` is refused here, not by a failing script later.
/// Options that fix the shapes of the weights are written from the weights: overriding one with
/// another value would give the official code a model the state dicts do not fit.
public enum OfficialOptions {
    public enum Kind: String, CaseIterable, Sendable { case int, float, bool, str }

    /// `opt.py` of the official MSCN code (argparse: `type=int`/`float`, `store_true`/`store_false`
    /// flags as bool, no type as str), and the three its scripts add.
    static let kinds: [String: Kind] = [
        "data_path": .str, "data_name": .str, "vocab_path": .str, "batch_size": .int, "num_epochs": .int,
        "lr_update": .int, "lr": .float, "workers": .int, "log_step": .int, "grad_clip": .float, "margin": .float,
        "img_dim": .int, "word_dim": .int, "embed_size": .int, "sim_dim": .int, "num_layers": .int,
        "bi_gru": .bool, "no_imgnorm": .bool, "no_txtnorm": .bool, "module_name": .str, "sgr_step": .int,
        "meta_interval": .int, "meta_lr": .float, "noise_file": .str, "noise_ratio": .float,
        "warmup_epoch": .int, "warmup_model_path": .str, "gpu": .str, "output_dir": .str,
        "vocab_size": .int, "meta_net_hidden_size": .int, "meta_net_num_layers": .int,
    ]

    /// Options whose value the weights decide (sizes, encoder switches, the similarity module).
    static let fromWeights: Set<String> = [
        "img_dim", "word_dim", "embed_size", "sim_dim", "vocab_size", "num_layers", "bi_gru", "no_imgnorm",
        "no_txtnorm", "module_name", "sgr_step", "meta_net_hidden_size", "meta_net_num_layers",
    ]

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// One `KEY=VALUE` or `KEY:TYPE=VALUE` (TYPE one of int, float, bool, str). A known key takes
    /// its parser's type (an explicit TYPE must agree); an unknown one without TYPE is read as
    /// Python would read a literal: an integer, a float, true/false, else a string.
    public static func parse(_ assignment: String) throws -> (String, TorchSaveWriter.Value) {
        guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
            throw Problem(description: "--opt \(assignment): give KEY=VALUE")
        }
        var key = String(assignment[..<eq])
        let text = String(assignment[assignment.index(after: eq)...])
        var explicit: Kind?
        if let colon = key.firstIndex(of: ":") {
            let typeName = String(key[key.index(after: colon)...])
            guard let kind = Kind(rawValue: typeName) else {
                throw Problem(description: "--opt \(assignment): type \(typeName) is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            explicit = kind
            key = String(key[..<colon])
        }
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !(key.first?.isNumber ?? true) else {
            throw Problem(description: "--opt \(assignment): \(key.isEmpty ? "the key is empty" : "\(key) is not a Python name")")
        }
        if let known = kinds[key], let explicit, explicit != known {
            throw Problem(description: "--opt \(assignment): the official opt.py makes \(key) \(known.rawValue), not \(explicit.rawValue)")
        }
        guard let kind = explicit ?? kinds[key] else { return (key, guessed(text)) }
        guard let value = value(text, as: kind) else {
            throw Problem(description: "--opt \(assignment): \(key) is \(kind == .int ? "an int" : "a \(kind.rawValue)") in the official opt.py; \(text.isEmpty ? "the value is empty" : "\(text) is not one")")
        }
        return (key, value)
    }

    /// The namespace written for nets of configurations `configs` (A, then B): the options the
    /// weights decide, evaluation's defaults, then `overrides` in their order (replacing a default,
    /// else appended). The official code builds both nets from this one namespace, so the nets must
    /// agree on every option their weights decide.
    static func namespace(for configs: [ModelConfig], overrides: [(String, TorchSaveWriter.Value)]) throws -> [(String, TorchSaveWriter.Value)] {
        guard let first = configs.first else { throw Problem(description: "no model to write") }
        let opt = base(first)
        for (index, other) in configs.enumerated().dropFirst() {
            for ((key, a), (_, b)) in zip(opt, base(other)) where fromWeights.contains(key) && !sameScalar(a, b) {
                throw Problem(description: "net \(index == 1 ? "B" : "\(index + 1)") has \(key) \(text(b)), net A \(text(a)): the official code builds both nets from one opt")
            }
        }
        return try overridden(opt, by: overrides)
    }

    private static func base(_ config: ModelConfig) -> [(String, TorchSaveWriter.Value)] {
        let r = ReferenceOptions(config)
        return [
            ("data_name", .string("f30k_precomp")), ("data_path", .string("")), ("vocab_path", .string("")),
            ("batch_size", .int(64)), ("workers", .int(0)),
            ("img_dim", .int(r.img_dim)), ("embed_size", .int(r.embed_size)), ("word_dim", .int(r.word_dim)),
            ("sim_dim", .int(r.sim_dim)), ("vocab_size", .int(r.vocab_size)), ("num_layers", .int(r.num_layers)),
            ("bi_gru", .bool(r.bi_gru)), ("no_imgnorm", .bool(r.no_imgnorm)), ("no_txtnorm", .bool(r.no_txtnorm)),
            ("module_name", .string(r.module_name)), ("sgr_step", .int(r.sgr_step)), ("margin", .float(decimal(r.margin))),
            ("grad_clip", .float(decimal(config.gradClip))),
            ("meta_net_hidden_size", .int(r.meta_hidden)), ("meta_net_num_layers", .int(1)),
        ]
    }

    private static func overridden(_ defaults: [(String, TorchSaveWriter.Value)], by overrides: [(String, TorchSaveWriter.Value)]) throws -> [(String, TorchSaveWriter.Value)] {
        var opt = defaults
        for (key, value) in overrides {
            guard let i = opt.firstIndex(where: { $0.0 == key }) else { opt.append((key, value)); continue }
            if fromWeights.contains(key), !sameScalar(opt[i].1, value) {
                throw Problem(description: "--opt \(key)=\(text(value)): the weights have \(key) \(text(opt[i].1)), and the official code would build a model they do not fit")
            }
            opt[i].1 = value
        }
        return opt
    }

    private static func value(_ text: String, as kind: Kind) -> TorchSaveWriter.Value? {
        switch kind {
        case .str: return .string(text)
        case .int: return Int(text).map { .int($0) }
        // An integer is a float to Python's float() too ("1" is 1.0).
        case .float: return Double(text).flatMap { $0.isFinite ? .float($0) : nil }
        case .bool: return bool(text).map { .bool($0) }
        }
    }

    /// A Python literal's type: the first of int, float, bool that reads the text, else str.
    private static func guessed(_ text: String) -> TorchSaveWriter.Value {
        value(text, as: .int) ?? value(text, as: .float) ?? value(text, as: .bool) ?? .string(text)
    }

    private static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True": return true
        case "false", "False": return false
        default: return nil
        }
    }

    private static func sameScalar(_ a: TorchSaveWriter.Value, _ b: TorchSaveWriter.Value) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        default: return false
        }
    }

    private static func text(_ v: TorchSaveWriter.Value) -> String {
        switch v {
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .bool(let b): return b ? "True" : "False"
        case .string(let s): return s
        default: return "?"
        }
    }

    /// A Float option as the decimal it was given as (0.2, not 0.20000000298…), as Python holds it.
    static func decimal(_ v: Float) -> Double { Double(String(v)) ?? Double(v) }
}
