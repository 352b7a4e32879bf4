import BuiltinDataset
import Imaging
import MSCNRandom
import XCTest

final class FeatureTests: XCTestCase {
    let extractor = RegionFeatureExtractor(dimension: 128, seed: 0)

    func testShapeNormsAndDeterminism() {
        let image = DatasetGenerator(size: 48, seed: 3).sample(split: "train", index: 0).image
        let f = extractor.extract(image)
        XCTAssertEqual(f.count, 36 * 128)
        for r in 0..<36 {
            let norm = f[(r * 128)..<((r + 1) * 128)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertEqual(f, RegionFeatureExtractor(dimension: 128, seed: 0).extract(image))
        XCTAssertNotEqual(f, RegionFeatureExtractor(dimension: 128, seed: 1).extract(image))
        // Other dimensions: padded (larger) or projected (smaller), still unit norm per region.
        let big = RegionFeatureExtractor(dimension: 160).extract(image)
        XCTAssertEqual(Array(big[0..<128]), Array(f[0..<128]))
        XCTAssertEqual(Array(big[128..<160]), [Float](repeating: 0, count: 32))
        let small = RegionFeatureExtractor(dimension: 64).extract(image)
        XCTAssertEqual(small.count, 36 * 64)
        XCTAssertEqual(small[0..<64].reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
    }

    /// Sum over A's regions of the best cosine with any region of B (what region attention sees).
    func matching(_ a: [Float], _ b: [Float]) -> Float {
        var total: Float = 0
        for i in 0..<36 {
            var best: Float = -2
            for j in 0..<36 {
                var dot: Float = 0
                for d in 0..<128 { dot += a[i * 128 + d] * b[j * 128 + d] }
                best = max(best, dot)
            }
            total += best
        }
        return total
    }

    func distance(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }

    func testSameObjectsAreNearerThanDifferentObjects() {
        var rng = SeededGenerator(seed: 11, stream: "feature-test")
        var wins = (same: 0, moved: 0), trials = 8
        for _ in 0..<trials {
            let scene = Scene.random(&rng)
            let other = Scene.random(&rng)
            var moved = scene
            moved.objects.reverse()  // same objects, swapped places
            for i in moved.objects.indices {
                moved.objects[i].x = scene.objects[i].x
                moved.objects[i].y = scene.objects[i].y
                moved.objects[i].radius = scene.objects[i].radius * (moved.objects[i].large == scene.objects[i].large ? 1 : (moved.objects[i].large ? 1.6 : 0.6))
            }
            let a = extractor.extract(Renderer.render(scene, size: 48, rng: &rng))
            let a2 = extractor.extract(Renderer.render(scene, size: 48, rng: &rng))  // new texture and noise
            let m = extractor.extract(Renderer.render(moved, size: 48, rng: &rng))
            let b = extractor.extract(Renderer.render(other, size: 48, rng: &rng))
            if distance(a, a2) < distance(a, b) { wins.same += 1 }
            if matching(a, m) > matching(a, b) { wins.moved += 1 }
        }
        XCTAssertEqual(wins.same, trials, "same scene, new noise must be nearer than another scene")
        XCTAssertGreaterThanOrEqual(wins.moved, trials - 1, "same objects elsewhere should match better than other objects")
    }

    func testColourAndShapeChangeTheRegionDescriptor() {
        // One object in the centre on a flat background: changing only its colour, or only its
        // shape, must move the central regions' descriptors clearly.
        func draw(_ shape: ShapeKind, _ colour: ShapeColour) -> [Float] {
            var rng = SeededGenerator(seed: 5)
            var scene = Scene.random(&rng)
            scene.objects = [scene.objects[0]]
            scene.objects[0].x = 0.5
            scene.objects[0].y = 0.5
            scene.objects[0].radius = 0.2
            scene.objects[0].shape = shape
            scene.objects[0] = scene.objects[0].recoloured(colour)
            var noise = SeededGenerator(seed: 6)
            return extractor.extract(Renderer.render(scene, size: 48, rng: &noise))
        }
        let redCircle = draw(.circle, .red), blueCircle = draw(.circle, .blue)
        let redSquare = draw(.square, .red), redCircle2 = draw(.circle, .red)
        XCTAssertEqual(distance(redCircle, redCircle2), 0)
        XCTAssertGreaterThan(distance(redCircle, blueCircle), 2)
        XCTAssertGreaterThan(distance(redCircle, redSquare), 1)
    }
}
