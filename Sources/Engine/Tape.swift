/// A node of a `Tape`: an index into its values.
public struct Var: Hashable, Sendable {
    public let id: Int
}

/// Reverse-mode automatic differentiation over a recorded list of operations.
///
/// Every op appends its value and, if any input needs a gradient, a closure that reads the
/// output's gradient and adds the inputs' gradients. `backward` runs the closures in reverse
/// order. Gradients are allocated lazily, so branches that do not reach the loss cost nothing.
public final class Tape {
    public private(set) var values: [[Float]] = []
    public private(set) var shapes: [[Int]] = []
    public private(set) var requiresGrad: [Bool] = []
    var grads: [[Float]?] = []
    var backwards: [(output: Int, run: (Tape, [Float]) -> Void)] = []
    /// Forward-mode tangents (see `Tape+Tangent.swift`); empty unless `tangentMode` is on.
    var tangents: [[Float]?] = []
    /// When on, every op computes its output's tangent from its inputs' as it is recorded.
    public var tangentMode = false {
        didSet { if tangentMode && tangents.count < values.count { tangents += Array(repeating: nil, count: values.count - tangents.count) } }
    }

    public init() {}

    /// An input or parameter. Parameters (`requiresGrad: true`) collect gradients.
    public func leaf(_ t: Tensor, requiresGrad: Bool) -> Var {
        record(t.data, shape: t.shape, requiresGrad: requiresGrad, tangent: Tape.leafTangent)
    }

    public func leaf(_ data: [Float], shape: [Int], requiresGrad: Bool) -> Var {
        record(data, shape: shape, requiresGrad: requiresGrad, tangent: Tape.leafTangent)
    }

    public func value(_ v: Var) -> [Float] { values[v.id] }
    public func shape(_ v: Var) -> [Int] { shapes[v.id] }
    public func tensor(_ v: Var) -> Tensor { Tensor(shape: shapes[v.id], data: values[v.id]) }
    public func needsGrad(_ v: Var) -> Bool { requiresGrad[v.id] }

    /// The gradient collected for `v` by `backward` (zeros if nothing reached it). Only leaves
    /// keep their gradients after `backward`.
    public func grad(_ v: Var) -> [Float] {
        grads[v.id] ?? [Float](repeating: 0, count: values[v.id].count)
    }

    /// Records an op's result. `backward` receives the output gradient; it is only kept when some
    /// input needs a gradient (`requiresGrad`).
    @discardableResult
    public func record(_ value: [Float], shape: [Int], requiresGrad: Bool,
                       backward: ((Tape, [Float]) -> Void)? = nil) -> Var {
        record(value, shape: shape, requiresGrad: requiresGrad, tangentRule: nil, backward: backward)
    }

    /// Records an op that also has a forward-mode rule: `tangent` returns the output's tangent
    /// from the inputs' (`tangent(of:)`), nil when none of them has one. It runs only in
    /// `tangentMode`, where an op on a differentiable path without a rule is a programming error.
    @discardableResult
    public func record(_ value: [Float], shape: [Int], requiresGrad: Bool,
                       tangent: @escaping (Tape) -> [Float]?,
                       backward: ((Tape, [Float]) -> Void)? = nil) -> Var {
        record(value, shape: shape, requiresGrad: requiresGrad, tangentRule: tangent, backward: backward)
    }

    func record(_ value: [Float], shape: [Int], requiresGrad: Bool, tangentRule tangent: ((Tape) -> [Float]?)?,
                backward: ((Tape, [Float]) -> Void)?) -> Var {
        precondition(shape.reduce(1, *) == value.count, "op value of \(value.count) does not fit \(shape)")
        let id = values.count
        values.append(value)
        shapes.append(shape)
        self.requiresGrad.append(requiresGrad)
        grads.append(nil)
        if requiresGrad, let backward { backwards.append((id, backward)) }
        if tangentMode { recordTangent(id, requiresGrad: requiresGrad, rule: tangent) }
        return Var(id: id)
    }

    /// Any input needing a gradient makes the op's output need one.
    public func anyNeedsGrad(_ vars: [Var]) -> Bool { vars.contains { requiresGrad[$0.id] } }

    /// Adds `g` into the gradient of `v` (ignored when `v` needs none).
    public func accumulate(_ v: Var, _ g: [Float]) {
        guard requiresGrad[v.id] else { return }
        precondition(g.count == values[v.id].count, "gradient size \(g.count) != \(values[v.id].count)")
        if var existing = grads[v.id] {
            grads[v.id] = nil
            existing.withUnsafeMutableBufferPointer { e in
                g.withUnsafeBufferPointer { gp in
                    for i in 0..<e.count { e[i] += gp[i] }
                }
            }
            grads[v.id] = existing
        } else {
            grads[v.id] = g
        }
    }

    /// Adds `g` into the gradient of `v` at `offset` (a contiguous block), without
    /// materialising a full-size gradient per call.
    public func accumulate(_ v: Var, at offset: Int, _ g: [Float]) {
        guard requiresGrad[v.id] else { return }
        precondition(offset >= 0 && offset + g.count <= values[v.id].count, "gradient block out of range")
        var existing = grads[v.id] ?? [Float](repeating: 0, count: values[v.id].count)
        grads[v.id] = nil
        existing.withUnsafeMutableBufferPointer { e in
            for i in 0..<g.count { e[offset + i] += g[i] }
        }
        grads[v.id] = existing
    }

    /// Runs the recorded backward closures from `output`, seeded with `seed` (default: ones).
    public func backward(_ output: Var, seed: [Float]? = nil) {
        for i in grads.indices { grads[i] = nil }
        let n = values[output.id].count
        grads[output.id] = seed ?? [Float](repeating: 1, count: n)
        for op in backwards.reversed() where op.output <= output.id {
            guard let g = grads[op.output] else { continue }
            // Every consumer of this op ran before it, so its gradient is complete and, once
            // passed on, no longer needed: freeing it halves the peak memory of the backward.
            // Leaves (parameters, inputs) have no op and keep theirs.
            grads[op.output] = nil
            op.run(self, g)
        }
    }
}
