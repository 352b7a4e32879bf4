import Artefacts
import DataPrep
import MSCNRandom
import TensorFile
import XCTest

/// Properties of the noise protocols and the import of published noise indices.
final class NoiseInjectionTests: XCTestCase {
    func testCaptionProtocolFollowsSpec() throws {
        let n = 300, k = 5, ratio = 0.6
        let map = try NoiseInjection.inject(images: n, captionsPerImage: k, ratio: ratio, seed: 9, protocol: .caption)
        // SPEC §2 written out with the same generator stream: first floor(r·M) positions of a
        // permutation get a shuffle of their own image ids.
        var g = SeededGenerator(seed: 9, stream: "noise-caption")
        let m = n * k
        let idx = g.permutation(m)
        let moved = Int((ratio * Double(m)).rounded(.down))
        let positions = Array(idx.prefix(moved))
        var ids = positions.map { $0 / k }
        g.shuffle(&ids)
        var expected = (0..<m).map { $0 / k }
        for (p, v) in zip(positions, ids) { expected[p] = v }
        XCTAssertEqual(map.imageOfCaption.map { Int($0) }, expected)

        // Untouched positions keep their image; the multiset of image ids is unchanged.
        let untouched = Set(0..<m).subtracting(positions)
        XCTAssertTrue(untouched.allSatisfy { map.imageOfCaption[$0] == Int64($0 / k) })
        XCTAssertEqual(map.imageOfCaption.sorted(), (0..<m).map { Int64($0 / k) })
        assertLabelsConsistent(map, k: k)
        let rate = NoiseInjection.realisedNoiseRate(map)
        XCTAssertLessThanOrEqual(rate, ratio)
        XCTAssertGreaterThan(rate, ratio - 0.02, "only a few shuffled captions land on their own image")
    }

    func testImageProtocolMovesWholeImages() throws {
        let n = 400, k = 5, ratio = 0.5
        let map = try NoiseInjection.inject(images: n, captionsPerImage: k, ratio: ratio, seed: 4, protocol: .image)
        assertLabelsConsistent(map, k: k)
        var movedImages = 0
        for i in 0..<n {
            let targets = Set(map.imageOfCaption[(i * k)..<((i + 1) * k)])
            XCTAssertEqual(targets.count, 1, "all captions of image \(i) go to one image")
            if targets.first != Int64(i) { movedImages += 1 }
        }
        XCTAssertLessThanOrEqual(movedImages, n / 2)
        XCTAssertGreaterThan(movedImages, n / 2 - 8)
        // A permutation of the chosen images: every image still receives exactly K captions.
        var received = [Int](repeating: 0, count: n)
        for t in map.imageOfCaption { received[Int(t)] += 1 }
        XCTAssertTrue(received.allSatisfy { $0 == k })
        XCTAssertEqual(NoiseInjection.realisedNoiseRate(map), Double(movedImages) / Double(n), accuracy: 1e-15)
    }

    func testSameSeedSameMapOtherSeedOtherMap() throws {
        for p in NoiseProtocol.allCases {
            let a = try NoiseInjection.inject(images: 50, captionsPerImage: 5, ratio: 0.3, seed: 1, protocol: p)
            let b = try NoiseInjection.inject(images: 50, captionsPerImage: 5, ratio: 0.3, seed: 1, protocol: p)
            let c = try NoiseInjection.inject(images: 50, captionsPerImage: 5, ratio: 0.3, seed: 2, protocol: p)
            XCTAssertEqual(a, b)
            XCTAssertNotEqual(a, c)
        }
    }

    func testRatioZeroIsCleanAndOutOfRangeThrows() throws {
        let clean = try NoiseInjection.inject(images: 10, captionsPerImage: 5, ratio: 0, seed: 0, protocol: .caption)
        XCTAssertTrue(clean.clean.allSatisfy { $0 == 1 })
        for bad in [-0.1, 1.0, 1.5, Double.nan] {
            XCTAssertThrowsError(try NoiseInjection.inject(images: 10, captionsPerImage: 5, ratio: bad, seed: 0, protocol: .caption))
        }
    }

    func testImportPerCaptionAndPerImage() throws {
        let perCaption = StoredTensor(name: "n", shape: [6], int64s: [0, 2, 1, 1, 2, 0])
        let a = try NoiseInjection.importIndex(perCaption, images: 3, captionsPerImage: 2, path: "x.npy")
        XCTAssertEqual(a.imageOfCaption, [0, 2, 1, 1, 2, 0])
        XCTAssertEqual(a.clean, [1, 0, 1, 1, 1, 0])  // own images 0,0,1,1,2,2

        let perImage = StoredTensor(name: "n", shape: [3], int32s: [2, 1, 0])
        let b = try NoiseInjection.importIndex(perImage, images: 3, captionsPerImage: 2, path: "x.npy")
        XCTAssertEqual(b.imageOfCaption, [2, 2, 1, 1, 0, 0])
        XCTAssertEqual(b.clean, [0, 0, 1, 1, 0, 0])

        XCTAssertThrowsError(try NoiseInjection.importIndex(StoredTensor(name: "n", shape: [4], int64s: [0, 1, 2, 0]),
                                                            images: 3, captionsPerImage: 2, path: "x.npy")) {
            XCTAssertTrue("\($0)".contains("x.npy"))
        }
        XCTAssertThrowsError(try NoiseInjection.importIndex(StoredTensor(name: "n", shape: [3], int64s: [0, 3, 1]),
                                                            images: 3, captionsPerImage: 2, path: "x.npy"))
        XCTAssertThrowsError(try NoiseInjection.importIndex(StoredTensor(name: "n", shape: [3], floats: [0, 1, 2]),
                                                            images: 3, captionsPerImage: 2, path: "x.npy"))
    }

    func assertLabelsConsistent(_ map: NoisyMap, k: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(map.clean.count, map.imageOfCaption.count, file: file, line: line)
        for (j, t) in map.imageOfCaption.enumerated() where (map.clean[j] == 1) != (t == Int64(j / k)) {
            XCTFail("caption \(j): clean label \(map.clean[j]) but noisy image \(t)", file: file, line: line)
            return
        }
    }
}
