import Foundation

/// Streaming conversions between `.npy` files and tensor files: memory stays at one chunk,
/// whatever the tensor size.
extension NPY {
    /// Bytes moved per step: several frames, so the writer compresses them on every core.
    static let defaultChunkBytes = 32 << 20

    /// Imports `npyPath` as one tensor into a new tensor file at `outPath`.
    /// `progress` gets (bytes done, bytes total) after each chunk.
    public static func importFile(_ npyPath: String, to outPath: String, name: String? = nil,
                                  metadata: [String: String] = [:],
                                  progress: ((Int, Int) -> Void)? = nil) throws {
        try importFile(npyPath, to: outPath, name: name, metadata: metadata, progress: progress,
                       chunkBytes: defaultChunkBytes, frameBytes: Layout.defaultFrameBytes)
    }

    static func importFile(_ npyPath: String, to outPath: String, name: String?, metadata: [String: String],
                           progress: ((Int, Int) -> Void)?, chunkBytes: Int, frameBytes: Int) throws {
        let r = try NPYReader(path: npyPath)
        let w = try TensorFileWriter(path: outPath, metadata: metadata, compressionLevel: TensorFileWriter.defaultCompressionLevel,
                                     frameBytes: frameBytes)
        try w.beginTensor(name: name ?? defaultName(for: npyPath), dtype: r.dtype, shape: r.shape)
        try copyChunks(total: r.byteCount, chunkBytes: chunkBytes, progress: progress) { start, buffer in
            try r.read(bytes: start, into: buffer)
            try w.append(UnsafeRawBufferPointer(buffer))
        }
        try w.endTensor()
        try w.finish()
    }

    /// Exports tensor `name` of `reader` as a numpy-readable `.npy` file (little-endian, C order).
    public static func exportTensor(_ name: String, from reader: TensorFileReader, to npyPath: String,
                                    progress: ((Int, Int) -> Void)? = nil) throws {
        try exportTensor(name, from: reader, to: npyPath, progress: progress, chunkBytes: defaultChunkBytes)
    }

    static func exportTensor(_ name: String, from reader: TensorFileReader, to npyPath: String,
                             progress: ((Int, Int) -> Void)?, chunkBytes: Int) throws {
        let info = try reader.info(name)
        let f = try AtomicFile(path: npyPath)
        try f.write(headerBytes(dtype: info.dtype, shape: info.shape))
        try copyChunks(total: info.byteCount, chunkBytes: chunkBytes, progress: progress) { start, buffer in
            try reader.read(name, bytes: start..<(start + buffer.count), into: buffer)
            try f.write(UnsafeRawBufferPointer(buffer))
        }
        try f.commit()
    }

    private static func copyChunks(total: Int, chunkBytes: Int, progress: ((Int, Int) -> Void)?,
                                   _ step: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunkBytes, max(total, 1)), alignment: 64)
        defer { buffer.deallocate() }
        var done = 0
        while done < total {
            let n = min(buffer.count, total - done)
            try step(done, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
            done += n
            progress?(done, total)
        }
    }
}
