import CZstd

enum Zstd {
    /// The most bytes compressing `n` bytes can produce.
    static func bound(_ n: Int) -> Int { ZSTD_compressBound(n) }

    /// The largest zstd frame header: enough bytes to learn a frame's declared content size.
    static let maxHeaderBytes = 18

    /// The content size a frame header declares, nil if it declares none or is not a frame.
    static func declaredSize(_ header: UnsafeRawBufferPointer) -> UInt64? {
        let declared = ZSTD_getFrameContentSize(header.baseAddress, header.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values.
        return declared < UInt64.max - 1 ? declared : nil
    }

    /// One-shot compression (small data; frames go through `ZstdCompressor`).
    static func compress(_ src: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        guard let c = ZstdCompressor(level: level) else { return [] }
        var out = [UInt8](repeating: 0, count: bound(src.count))
        let n = out.withUnsafeMutableBytes { (try? c.compress(src, into: $0)) ?? 0 }
        out.removeSubrange(n...)
        return out
    }
}

/// A compression context reused across frames. One per thread: contexts are not thread-safe.
final class ZstdCompressor {
    private let cctx: OpaquePointer

    init?(level: Int32) {
        guard let c = ZSTD_createCCtx() else { return nil }
        cctx = c
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
    }

    deinit { ZSTD_freeCCtx(cctx) }

    /// Compresses `src` into `dst` (at least `Zstd.bound(src.count)` bytes) as one frame.
    func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws -> Int {
        let r = ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(r) != 0 { throw ZstdProblem("zstd compression failed (\(String(cString: ZSTD_getErrorName(r))))") }
        return r
    }
}

/// A decompression context reused across frames. One per thread.
final class ZstdDecompressor {
    private let dctx: OpaquePointer

    init?() {
        guard let d = ZSTD_createDCtx() else { return nil }
        dctx = d
    }

    deinit { ZSTD_freeDCtx(dctx) }

    /// Inflates the single frame `src` into exactly `dst.count` bytes or says why not. The frame's
    /// own header is checked against the expected size before any work.
    func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws {
        guard let declared = Zstd.declaredSize(src) else { throw ZstdProblem("corrupt frame (bad zstd frame header)") }
        guard declared == UInt64(dst.count) else {
            throw ZstdProblem("frame header declares \(declared) bytes, the footer says \(dst.count)")
        }
        let size = ZSTD_findFrameCompressedSize(src.baseAddress, src.count)
        guard ZSTD_isError(size) == 0, size == src.count else {
            throw ZstdProblem("corrupt frame (its zstd frame does not span the \(src.count) stored bytes)")
        }
        let r = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(r) != 0 {
            throw ZstdProblem("corrupt frame (\(String(cString: ZSTD_getErrorName(r))))")
        }
        guard r == dst.count else { throw ZstdProblem("frame inflates to \(r) bytes, expected \(dst.count)") }
    }
}

struct ZstdProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
