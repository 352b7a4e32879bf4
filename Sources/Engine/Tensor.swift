/// A dense Float32 tensor: a shape and its values in C (row-major) order.
///
/// A plain value type over `[Float]` (which is already copy-on-write), so copies are cheap until
/// one side mutates.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "data of \(data.count) values does not fit shape \(shape)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }

    /// L2 norm of all values, accumulated in Double.
    public var norm: Double {
        var s = 0.0
        for v in data { s += Double(v) * Double(v) }
        return s.squareRoot()
    }
}
