import Artefacts
import TensorFile

/// Region features of one split, `[N, R, D]`, held in memory for random batch access
/// (the reference does the same; the feature files are the only large inputs).
public struct FeatureTable: Sendable {
    public let path: String
    public let count: Int
    public let regions: Int
    public let dim: Int
    public let values: [Float]
    /// The split the file was made from (`split` in its metadata, which `mscn-ingest` and
    /// `mscn-features` write); nil for files without it.
    public let split: String?

    public init(path: String) throws {
        let reader = try TensorFileReader(path: path)
        let info = try reader.info(Schema.features)
        guard info.dtype == .f32, info.shape.count == 3 else {
            throw TensorFileError(path, "features must be f32 [N, R, D], found \(info.dtype.rawValue) \(info.shape)")
        }
        self.path = path
        count = info.shape[0]
        regions = info.shape[1]
        dim = info.shape[2]
        values = try reader.read(Schema.features).floats()
        split = reader.metadata["split"].flatMap { $0.isEmpty ? nil : $0 }
        // A NaN or infinity would train a net to NaN without any error (the loss then reads 0).
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            let perImage = max(regions * dim, 1)
            throw TensorFileError(path, "feature \(values[bad]) at image \(bad / perImage), region \(bad % perImage / max(dim, 1)), dimension \(bad % max(dim, 1)): features must be finite")
        }
    }

    /// Fails, naming the file, when it says it holds another split's features: two splits of the
    /// same size (the built-in dev and test) would otherwise score one split's images against the
    /// other's captions without any error.
    public func requireSplit(_ expected: String) throws {
        try Schema.requireFeatureSplit(recorded: split, expected: expected, path: path)
    }

    public init(values: [Float], count: Int, regions: Int, dim: Int, path: String = "<memory>") {
        precondition(values.count == count * regions * dim, "feature values do not match [\(count), \(regions), \(dim)]")
        self.path = path
        self.values = values
        self.split = nil
        self.count = count
        self.regions = regions
        self.dim = dim
    }

    /// Features of `images` stacked as `[B, R, D]`.
    public func gather(_ images: [Int]) -> [Float] {
        let row = regions * dim
        var out = [Float](repeating: 0, count: images.count * row)
        out.withUnsafeMutableBufferPointer { dst in
            values.withUnsafeBufferPointer { src in
                for (b, i) in images.enumerated() {
                    guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                    (d + b * row).update(from: s + i * row, count: row)
                }
            }
        }
        return out
    }
}
