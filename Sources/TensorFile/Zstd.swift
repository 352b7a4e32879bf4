import CZstd

enum Zstd {
    static func compress(_ src: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(src.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { dst -> Int in
            guard let cctx = ZSTD_createCCtx() else { return -1 }
            defer { ZSTD_freeCCtx(cctx) }
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
            let r = ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            return ZSTD_isError(r) != 0 ? -1 : r
        }
        precondition(n >= 0, "zstd compression failed")
        out.removeSubrange(n...)
        return out
    }

    /// Inflates exactly `rawSize` bytes or reports why not.
    static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> String? {
        let r = ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(r) != 0 {
            return "corrupt frame (\(String(cString: ZSTD_getErrorName(r))))"
        }
        if r != dst.count { return "frame inflates to \(r) bytes, header says \(dst.count)" }
        return nil
    }
}
