import Foundation
import Imaging
import TwoWorkers

/// Grid region features at 64×64 on two threads; the target is ≥ 500 images/s on 2 cores.
enum FeaturesBench {
    static let benchmark = Benchmark(name: "features") {
        let size = 64, count = 2000
        var images: [RGBImage] = []
        var state: UInt64 = 0x1234_5678
        for _ in 0..<16 {
            let pixels = (0..<(size * size * 3)).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            images.append(RGBImage(width: size, height: size, pixels: pixels))
        }
        let extractor = RegionFeatureExtractor()
        let per = extractor.regionCount * extractor.dimension
        var out = [Float](repeating: 0, count: count * per)
        let start = Date()
        out.withUnsafeMutableBufferPointer { dst in
            TwoWorkers.forEach(count: count) { i in
                extractor.extract(images[i % images.count],
                                  into: UnsafeMutableBufferPointer(rebasing: dst[(i * per)..<((i + 1) * per)]))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "features 64x64 -> [36,128]: %d images in %.2f s = %.0f images/s (2 threads; target >= 500)",
                     count, seconds, Double(count) / seconds))
    }
}
