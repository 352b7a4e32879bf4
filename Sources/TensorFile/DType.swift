/// Element types a tensor file can hold. Raw values are the names written in file headers.
public enum DType: String, Codable, Sendable, CaseIterable {
    case f32, f64, i32, i64, u8

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        case .u8: return 1
        }
    }
}

/// An error about one file: what went wrong and where.
public struct TensorFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
