import Foundation

/// On-disk layout (version 1):
///
///     "MSCNTZ01" | zstd frames ... | footer JSON | footer length (u64 LE) | "MSCNTEND"
///
/// Each tensor's bytes are cut into frames that hold whole rows (axis 0) and at most
/// `frameTarget` raw bytes, so a row range inflates only the frames it touches. The footer
/// lists every frame's offset and sizes; it is read and validated before any data.
enum Layout {
    static let headMagic = Array("MSCNTZ01".utf8)
    static let tailMagic = Array("MSCNTEND".utf8)
    static let frameTarget = 4 << 20
    /// A footer larger than this is refused before it is read (hostile length fields).
    static let maxFooterBytes = 64 << 20
}

struct FrameRecord: Codable, Equatable {
    var offset: Int
    var compressed: Int
    var raw: Int
    var rows: Int
}

struct TensorRecord: Codable {
    var name: String
    var dtype: DType
    var shape: [Int]
    var frames: [FrameRecord]
}

struct Footer: Codable {
    var version: Int
    var metadata: [String: String]
    var tensors: [TensorRecord]
}

/// Where one tensor lives in a file, and what it is.
public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Uncompressed size in bytes.
    public var byteCount: Int
    /// Compressed size in bytes.
    public var storedByteCount: Int
    public var frameCount: Int
}
