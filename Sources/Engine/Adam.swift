import Foundation

/// Adam as PyTorch implements it (`torch.optim.Adam`, no weight decay, no amsgrad), one state
/// per named parameter.
public struct Adam: Equatable, Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// First and second moments and step count per parameter name.
    public var m: [String: [Float]] = [:]
    public var v: [String: [Float]] = [:]
    public var steps: [String: Int] = [:]

    public init() {}

    /// One update of `param` with gradient `grad` at learning rate `lr`.
    public mutating func step(_ name: String, param: inout [Float], grad: [Float], lr: Float) {
        precondition(param.count == grad.count, "adam: \(name) sizes")
        var mm = m[name] ?? [Float](repeating: 0, count: param.count)
        var vv = v[name] ?? [Float](repeating: 0, count: param.count)
        let t = (steps[name] ?? 0) + 1
        // PyTorch computes the bias corrections in double precision on the host.
        let bc1 = 1 - Foundation.pow(Double(beta1), Double(t)), bc2 = 1 - Foundation.pow(Double(beta2), Double(t))
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        for i in param.indices {
            mm[i] += (grad[i] - mm[i]) * (1 - beta1)  // lerp, as torch does
            vv[i] = vv[i] * beta2 + (1 - beta2) * grad[i] * grad[i]
            let denom = vv[i].squareRoot() / bc2Sqrt + eps
            param[i] -= stepSize * (mm[i] / denom)
        }
        m[name] = mm; v[name] = vv; steps[name] = t
    }

}

/// `torch.nn.utils.clip_grad_norm_`: scales all gradients by `max/(total + 1e-6)` when that is
/// below one. Returns the total L2 norm before clipping.
@discardableResult
public func clipGradNorm(_ grads: inout [String: [Float]], maxNorm: Float) -> Float {
    var s: Float = 0
    for name in grads.keys.sorted() {
        var n2: Float = 0
        for g in grads[name] ?? [] { n2 += g * g }
        s += n2
    }
    let total = s.squareRoot()
    let coef = maxNorm / (total + 1e-6)
    if coef < 1 {
        for name in grads.keys { grads[name] = grads[name]?.map { $0 * coef } }
    }
    return total
}
