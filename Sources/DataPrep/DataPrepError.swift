/// A problem with the inputs or parameters of noise injection or meta-set selection.
public struct DataPrepError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
