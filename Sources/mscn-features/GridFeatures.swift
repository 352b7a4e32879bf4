import Artefacts
import Foundation
import Imaging
import StageKit
import TensorFile
import TwoWorkers

/// Streams `pixels` chunk by chunk through the extractor (two threads per chunk) into `features`.
enum GridFeatures {
    static func run(reader: TensorFileReader, out: String, extractor: RegionFeatureExtractor, chunk: Int,
                    metadata: [String: String]) throws -> Int {
        let info = try reader.info(Schema.pixels)
        guard info.dtype == .u8, info.shape.count == 4, info.shape[3] == 3, info.shape[1] > 0, info.shape[2] > 0 else {
            throw StageError("pixels must be u8 [N,H,W,3], found \(info.dtype.rawValue) \(info.shape)", path: reader.path)
        }
        let (n, h, w) = (info.shape[0], info.shape[1], info.shape[2])
        guard n > 0 else { throw StageError("holds no images: nothing to extract features from", path: reader.path) }
        guard h >= extractor.grid, w >= extractor.grid else {
            throw StageError("images of \(w)x\(h) are smaller than the \(extractor.grid)x\(extractor.grid) grid", path: reader.path)
        }
        var meta = metadata
        meta["extractor"] = "grid\(extractor.grid)-colour-gradient-filterbank-v1"
        meta["dim"] = String(extractor.dimension)
        let writer = try TensorFileWriter(path: out, metadata: meta)
        let perImage = extractor.regionCount * extractor.dimension
        try writer.beginTensor(name: Schema.features, dtype: .f32, shape: [n, extractor.regionCount, extractor.dimension])
        let progress = Progress("features", total: n)
        var start = 0
        while start < n {
            let end = min(start + chunk, n)
            let pixels = try reader.readRows(Schema.pixels, start..<end).uint8s()
            var features = [Float](repeating: 0, count: (end - start) * perImage)
            features.withUnsafeMutableBufferPointer { dst in
                pixels.withUnsafeBufferPointer { src in
                    let imageBytes = h * w * 3
                    TwoWorkers.forEach(count: end - start) { i in
                        let image = RGBImage(width: w, height: h,
                                             pixels: Array(src[(i * imageBytes)..<((i + 1) * imageBytes)]))
                        extractor.extract(image, into: UnsafeMutableBufferPointer(rebasing: dst[(i * perImage)..<((i + 1) * perImage)]))
                    }
                }
            }
            try features.withUnsafeBytes { try writer.append($0) }
            start = end
            progress.update(start)
        }
        try writer.endTensor()
        try writer.finish()
        return n
    }
}
