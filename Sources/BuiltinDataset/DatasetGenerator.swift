import Foundation
import Imaging
import MSCNRandom
import TensorFile
import TwoWorkers

/// Writes the built-in dataset in the image-folder layout: `images/<split>_<i>.jpg`,
/// `{split}_images.txt` and `{split}_caps.txt` (5 captions per image).
///
/// Every image draws from its own stream (`builtin/<split>/<i>`), so changing one split's size
/// leaves the other splits' images unchanged; JPEG encoding uses fixed tables (baseline, no
/// optimised Huffman), so the same seed gives byte-identical files.
public struct DatasetGenerator {
    public var counts: [(split: String, count: Int)]
    public var size: Int
    public var seed: UInt64
    public var quality = 90
    public static let captionsPerImage = 5

    public init(train: Int = 3000, dev: Int = 200, test: Int = 200, size: Int = 64, seed: UInt64 = 0) {
        counts = [("train", train), ("dev", dev), ("test", test)]
        self.size = size
        self.seed = seed
    }

    /// One image and its captions (for tests and previews).
    public func sample(split: String, index: Int) -> (scene: Scene, image: RGBImage, captions: [String]) {
        var rng = SeededGenerator(seed: seed, stream: "builtin/\(split)/\(index)")
        let scene = Scene.random(&rng)
        let image = Renderer.render(scene, size: size, rng: &rng)
        let captions = CaptionWriter.captions(scene, count: Self.captionsPerImage, rng: &rng)
        return (scene, image, captions)
    }

    /// Writes every split into `folder`; the list and caption files are written last (each
    /// atomically), so an interrupted run does not look complete. `progress` gets images done.
    /// Images are rendered and encoded on two threads, in chunks: each depends on its own stream
    /// only, so the files are the same whichever thread makes them.
    public func write(to folder: String, progress: (Int, Int) -> Void = { _, _ in }) throws {
        let fm = FileManager.default
        let imageDir = (folder as NSString).appendingPathComponent("images")
        try fm.createDirectory(atPath: imageDir, withIntermediateDirectories: true)
        let total = counts.reduce(0) { $0 + $1.count }
        var done = 0
        var texts: [(String, String)] = []
        let chunk = 64
        for (split, count) in counts {
            var names = "", caps = ""
            var start = 0
            while start < count {
                let end = min(start + chunk, count)
                let results = TwoWorkers.map(count: end - start) { i in
                    Result { try writeImage(split: split, index: start + i, into: imageDir) }
                }
                for r in results {
                    let (name, captions) = try r.get()
                    names += name + "\n"
                    caps += captions.joined(separator: "\n") + "\n"
                }
                done += end - start
                progress(done, total)
                start = end
            }
            texts.append(("\(split)_images.txt", names))
            texts.append(("\(split)_caps.txt", caps))
        }
        for (name, text) in texts { try write(Data(text.utf8), to: (folder as NSString).appendingPathComponent(name)) }
    }

    /// Renders, encodes and writes one image; returns its file name and captions.
    private func writeImage(split: String, index: Int, into imageDir: String) throws -> (name: String, captions: [String]) {
        let (_, image, captions) = sample(split: split, index: index)
        let digits = String(index)
        let name = "\(split)_" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".jpg"
        let jpeg = try JPEG.encode(image, quality: quality)
        try write(Data(jpeg), to: (imageDir as NSString).appendingPathComponent(name))
        return (name, captions)
    }

    /// Without syncs: thousands of small files, and a crash mid-way leaves the stage unfinished,
    /// to be run again.
    private func write(_ data: Data, to path: String) throws {
        do { try AtomicWrite.write(data, to: path, durable: false) } catch let e as TensorFileError {
            throw DatasetError(path: path, message: e.message)
        }
    }
}

public struct DatasetError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
