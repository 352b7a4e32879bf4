import Foundation

/// On-disk layout, version 2 (all integers little-endian):
///
///     offset 0      "MSCNTZ02"                       head: magic + two-digit format version
///     offset 8      zstd frames, back to back         tensors in footer order, each tensor's
///                                                     frames in byte order
///     footerStart   footer: UTF-8 JSON, F bytes       version, metadata, tensor table
///     size - 24     F (u64) | CRC-32C of footer (u32) | version (u32) | "MSCNTEND"
///
/// A tensor's C-order bytes are cut into frames of exactly `frameBytes` raw bytes (the last one
/// may be shorter; an empty tensor has no frames). Each frame is an independent zstd frame with
/// content size and checksum flags, so a row range inflates only the frames it touches and
/// frames inflate in parallel. The footer records, per tensor: name, dtype, shape, `offset` of
/// its first frame, `frameBytes` and the compressed size of each frame; a frame's raw size and
/// offset follow from those. The reader validates all of it (magic, version, capped footer
/// length, CRC, shapes and sizes without overflow, frames contiguous from offset 8 and ending
/// exactly at the footer) before touching any frame.
enum Layout {
    static let version = 2
    static let headMagic = Array("MSCNTZ02".utf8)
    /// The head's first six bytes; the last two are the version in ASCII digits.
    static let headPrefix = Array("MSCNTZ".utf8)
    static let tailMagic = Array("MSCNTEND".utf8)
    static let trailerSize = 24
    static let dataStart = headMagic.count
    /// Raw bytes per frame the writer uses unless told otherwise.
    static let defaultFrameBytes = 4 << 20
    /// The largest frame a reader accepts: bounds the memory one frame can claim.
    static let maxFrameBytes = 64 << 20
    /// A footer larger than this is refused before it is read (hostile length fields).
    static let maxFooterBytes = 16 << 20
    static let maxRank = 64
    /// zstd blocks hold at most 128 KiB and the smallest block (RLE) takes 4 bytes, so no frame
    /// inflates more than 32768-fold; a footer claiming more is lying.
    static let maxInflation = 32768
}

/// A tensor as the footer stores it.
struct TensorRecord: Codable, Equatable {
    var name: String
    var dtype: DType
    var shape: [Int]
    var offset: Int
    var frameBytes: Int
    /// Compressed size of each frame.
    var frames: [Int]
}

struct Footer: Codable, Equatable {
    var version: Int
    var metadata: [String: String]
    var tensors: [TensorRecord]
}

/// A validated tensor record with every frame's place in the file worked out.
struct TensorEntry {
    var name: String
    var dtype: DType
    var shape: [Int]
    var byteCount: Int
    var frameBytes: Int
    /// Start of each frame, plus the end of the last one (`frames.count + 1` entries).
    var frameOffsets: [Int]

    var frameCount: Int { frameOffsets.count - 1 }
    var storedByteCount: Int { frameOffsets[frameCount] - frameOffsets[0] }
    var rowCount: Int { shape.first ?? 1 }
    var rowBytes: Int { shape.dropFirst().reduce(dtype.size, *) }

    /// Raw (inflated) size of frame `i`.
    func rawSize(ofFrame i: Int) -> Int { min(frameBytes, byteCount - i * frameBytes) }

    /// The frames holding raw bytes `bytes` (empty for an empty range).
    func frames(covering bytes: Range<Int>) -> Range<Int> {
        guard !bytes.isEmpty else { return 0..<0 }
        return (bytes.lowerBound / frameBytes)..<((bytes.upperBound - 1) / frameBytes + 1)
    }

    var info: TensorInfo {
        TensorInfo(name: name, dtype: dtype, shape: shape, byteCount: byteCount,
                   storedByteCount: storedByteCount, frameCount: frameCount,
                   frameBytes: frameBytes, offset: frameOffsets[0])
    }
}

extension Footer {
    /// Checks every record against the file's data region `dataStart..<dataEnd` and works out
    /// frame offsets. Pure arithmetic, so offsets beyond 4 GB can be tested without big files.
    func validate(dataStart: Int, dataEnd: Int, path: String) throws -> [TensorEntry] {
        func fail(_ message: String) -> TensorFileError { TensorFileError(path, message) }
        guard version == Layout.version else {
            throw fail("footer says format version \(version), this build reads \(Layout.version)")
        }
        var entries: [TensorEntry] = []
        entries.reserveCapacity(tensors.count)
        var names = Set<String>()
        var end = dataStart
        for t in tensors {
            guard names.insert(t.name).inserted else { throw fail("duplicate tensor name \(t.name)") }
            guard t.shape.count <= Layout.maxRank else {
                throw fail("\(t.name): rank \(t.shape.count) exceeds \(Layout.maxRank)")
            }
            var total = t.dtype.size
            for d in t.shape {
                guard d >= 0 else { throw fail("\(t.name): negative dimension in shape \(t.shape)") }
                let (p, o) = total.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("\(t.name): shape \(t.shape) overflows") }
                total = p
            }
            guard t.frameBytes >= 1, t.frameBytes <= Layout.maxFrameBytes else {
                throw fail("\(t.name): frame size \(t.frameBytes) outside 1...\(Layout.maxFrameBytes)")
            }
            let needed = total == 0 ? 0 : (total - 1) / t.frameBytes + 1
            guard t.frames.count == needed else {
                throw fail("\(t.name): \(t.frames.count) frames, shape \(t.shape) of \(t.dtype.rawValue) needs \(needed)")
            }
            guard t.offset == end else {
                throw fail("\(t.name): data starts at \(t.offset), previous data ends at \(end)")
            }
            var offsets: [Int] = []
            offsets.reserveCapacity(t.frames.count + 1)
            offsets.append(end)
            for (i, c) in t.frames.enumerated() {
                let raw = min(t.frameBytes, total - i * t.frameBytes)
                guard c > 0, c <= dataEnd - end else {
                    throw fail("\(t.name): frame \(i) claims \(c) bytes, \(dataEnd - end) are left before the footer")
                }
                guard raw / Layout.maxInflation <= c, c <= Zstd.bound(raw) else {
                    throw fail("\(t.name): frame \(i) of \(c) bytes cannot hold \(raw) raw bytes")
                }
                end += c
                offsets.append(end)
            }
            entries.append(TensorEntry(name: t.name, dtype: t.dtype, shape: t.shape, byteCount: total,
                                       frameBytes: t.frameBytes, frameOffsets: offsets))
        }
        guard end == dataEnd else {
            throw fail("frames end at \(end), footer starts at \(dataEnd)")
        }
        return entries
    }
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
    /// Raw bytes per frame (the last frame may hold fewer).
    public var frameBytes: Int = Layout.defaultFrameBytes
    /// File offset of the tensor's first frame.
    public var offset: Int = Layout.dataStart
}
