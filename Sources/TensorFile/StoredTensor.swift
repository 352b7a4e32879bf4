/// One named tensor as raw little-endian bytes in C order.
public struct StoredTensor: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]
    /// The file it was read from, named in its type errors; not part of its value.
    public var origin: String?

    public static func == (a: StoredTensor, b: StoredTensor) -> Bool {
        a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes
    }

    /// `<file>: <tensor>` when the file is known, for errors about this tensor.
    private var errorLabel: String { origin.map { "\($0): \(name)" } ?? name }

    public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(bytes.count == shape.reduce(1, *) * dtype.size,
                     "\(name): \(bytes.count) bytes do not fit shape \(shape) of \(dtype)")
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    public var elementCount: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], floats: [Float]) {
        self.init(name: name, dtype: .f32, shape: shape, bytes: Self.pack(floats))
    }
    public init(name: String, shape: [Int], doubles: [Double]) {
        self.init(name: name, dtype: .f64, shape: shape, bytes: Self.pack(doubles))
    }
    public init(name: String, shape: [Int], int32s: [Int32]) {
        self.init(name: name, dtype: .i32, shape: shape, bytes: Self.pack(int32s))
    }
    public init(name: String, shape: [Int], int64s: [Int64]) {
        self.init(name: name, dtype: .i64, shape: shape, bytes: Self.pack(int64s))
    }
    public init(name: String, shape: [Int], uint8s: [UInt8]) {
        self.init(name: name, dtype: .u8, shape: shape, bytes: uint8s)
    }

    public func floats() throws -> [Float] { try unpack(.f32) }
    public func doubles() throws -> [Double] { try unpack(.f64) }
    public func int32s() throws -> [Int32] { try unpack(.i32) }
    public func int64s() throws -> [Int64] { try unpack(.i64) }
    public func uint8s() throws -> [UInt8] {
        guard dtype == .u8 else { throw TensorFileError(errorLabel, "is \(dtype.rawValue), expected u8") }
        return bytes
    }

    /// Any integer tensor (i32, i64 or u8) widened to `Int`.
    public func ints() throws -> [Int] {
        switch dtype {
        case .i32: return try int32s().map { Int($0) }
        case .i64: return try int64s().map { Int($0) }
        case .u8: return bytes.map { Int($0) }
        default: throw TensorFileError(errorLabel, "is \(dtype.rawValue), expected an integer type")
        }
    }

    private func unpack<T>(_ expected: DType) throws -> [T] {
        guard dtype == expected else {
            throw TensorFileError(errorLabel, "is \(dtype.rawValue), expected \(expected.rawValue)")
        }
        let n = elementCount
        return [T](unsafeUninitializedCapacity: n) { buf, count in
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
            }
            count = n
        }
    }

    static func pack<T>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }
}
