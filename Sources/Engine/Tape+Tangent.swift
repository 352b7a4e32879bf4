/// Forward-mode differentiation on the tape: with `tangentMode` on, each recorded op also
/// computes its output's directional derivative (its tangent) from its inputs' tangents, so one
/// forward yields J·v for a direction v set on the leaves (`setTangent`). Together with a reverse
/// pass over a small tangent graph this gives the meta-gradient's Hessian-vector product exactly
/// (`MetaStep`). At a kink (ReLU, LeakyReLU, a hinge) the rule takes the branch the forward took,
/// as autograd's does.
extension Tape {
    /// Marks leaves: their tangent is whatever `setTangent` gives them.
    static let leafTangent: (Tape) -> [Float]? = { _ in nil }

    func recordTangent(_ id: Int, requiresGrad: Bool, rule: ((Tape) -> [Float]?)?) {
        var t: [Float]? = nil
        if let rule {
            t = rule(self)
        } else {
            // Constants (inputs without gradient) need no rule; a differentiable op without one
            // would silently drop the direction.
            precondition(!requiresGrad, "op \(id) of shape \(shapes[id]) has no tangent rule")
        }
        if let t { precondition(t.count == values[id].count, "tangent of op \(id): \(t.count) values for \(values[id].count)") }
        tangents.append(t)
    }

    /// Gives a leaf a tangent (the direction of the forward-mode derivative).
    public func setTangent(_ v: Var, _ t: [Float]) {
        precondition(tangentMode, "setTangent needs tangentMode")
        // Only differentiable paths are guaranteed a tangent rule.
        precondition(requiresGrad[v.id], "setTangent on a leaf that needs no gradient")
        precondition(t.count == values[v.id].count, "tangent size \(t.count) != \(values[v.id].count)")
        tangents[v.id] = t
    }

    /// The tangent of `v` (nil: zero, no input it depends on has a direction).
    public func tangent(of v: Var) -> [Float]? {
        v.id < tangents.count ? tangents[v.id] : nil
    }

    /// The tangent of `v`, zeros when it has none.
    func tangentOrZero(_ v: Var) -> [Float] {
        tangent(of: v) ?? [Float](repeating: 0, count: values[v.id].count)
    }

    /// The tangent of an op that is linear in its inputs (a reshape, a gather, a mean, a
    /// concatenation…): the op itself applied to the inputs' tangents, on a scratch tape, so the
    /// rule is the op's own code.
    func tangentOfLinear(_ xs: [Var], _ op: (Tape, [Var]) -> Var) -> [Float]? {
        guard xs.contains(where: { tangent(of: $0) != nil }) else { return nil }
        let s = Tape()
        let leaves = xs.map { s.leaf(tangentOrZero($0), shape: shapes[$0.id], requiresGrad: false) }
        let y = op(s, leaves)
        return s.values[y.id]
    }

    /// The tangent of an op bilinear in (a, b), e.g. a product: `op(ȧ, b) + op(a, ḃ)`, each
    /// term on a scratch tape and skipped when its tangent is zero.
    func tangentOfBilinear(_ a: Var, _ b: Var, _ op: (Tape, Var, Var) -> Var) -> [Float]? {
        let ta = tangent(of: a), tb = tangent(of: b)
        guard ta != nil || tb != nil else { return nil }
        var r: [Float]? = nil
        func add(_ x: [Float]) {
            guard var acc = r else { r = x; return }
            for i in acc.indices { acc[i] += x[i] }
            r = acc
        }
        func term(_ x: [Float], _ y: [Float]) -> [Float] {
            let s = Tape()
            let out = op(s, s.leaf(x, shape: shapes[a.id], requiresGrad: false), s.leaf(y, shape: shapes[b.id], requiresGrad: false))
            return s.values[out.id]
        }
        // Both terms on scratch tapes, at once when large (they only read this tape), then added
        // in the same order as one after the other. `op` is generic, so its operands' size stands
        // in for its work.
        if let ta, let tb, values[a.id].count + values[b.id].count >= ParallelRows.vectorMinimumWork {
            let (first, second) = ParallelRows.both({ term(ta, values[b.id]) }, { term(values[a.id], tb) })
            add(first)
            add(second)
            return r
        }
        if let ta { add(term(ta, values[b.id])) }
        if let tb { add(term(values[a.id], tb)) }
        return r
    }

    /// `ẏ = f'(x, y) · ẋ` for an elementwise op.
    func tangentElementwise(_ x: Var, _ y: [Float], _ df: (Float, Float) -> Float) -> [Float]? {
        guard var t = tangent(of: x) else { return nil }
        let xv = values[x.id]
        for i in t.indices { t[i] *= df(xv[i], y[i]) }
        return t
    }
}
