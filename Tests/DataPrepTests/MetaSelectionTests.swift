import Artefacts
import DataPrep
import XCTest

/// The three meta-set rules, the disjoint mode and their errors.
final class MetaSelectionTests: XCTestCase {
    let corpus = TinyCorpus.make(train: 40, dev: 12, meta: 3, k: 5)

    func testFlickrDrawsDistinctDevPairs() throws {
        let s = try MetaSelection.select(corpus: corpus, options: .init(rule: .flickr, seed: 3, metaFraction: 0.2)).split
        XCTAssertEqual(s.caption.count, 40)  // floor(0.2 · 200)
        XCTAssertEqual(Set(s.caption).count, 40, "without replacement")
        XCTAssertTrue(s.source.allSatisfy { $0 == MetaSelection.fromDev })
        XCTAssertTrue(zip(s.caption, s.image).allSatisfy { $0.1 == $0.0 / 5 }, "each caption with its own image")
        XCTAssertTrue(s.caption.allSatisfy { $0 >= 0 && $0 < 60 })
        XCTAssertEqual(s.trainKeep, [UInt8](repeating: 1, count: 200))
        XCTAssertEqual(s.devSelect, [UInt8](repeating: 1, count: 12))
    }

    func testFlickrDisjointRemovesMetaImagesFromSelection() throws {
        let sel = try MetaSelection.select(corpus: corpus, options: .init(rule: .flickr, seed: 3, metaFraction: 0.02, disjoint: true))
        XCTAssertTrue(sel.warnings.isEmpty)
        let metaImages = Set(sel.split.image.map { Int($0) })
        for i in 0..<12 { XCTAssertEqual(sel.split.devSelect[i], metaImages.contains(i) ? 0 : 1) }
        let overlapping = try MetaSelection.select(corpus: corpus, options: .init(rule: .flickr, seed: 3, metaFraction: 0.02))
        XCTAssertEqual(overlapping.warnings.count, 1)
        XCTAssertEqual(overlapping.split.caption, sel.split.caption, "disjoint changes selection, not the draw")
    }

    func testCocoTakesDevAndWholeTrainingImages() throws {
        let s = try MetaSelection.select(corpus: corpus, options: .init(rule: .coco, seed: 8, cocoTrainImages: 6)).split
        let dev = zip(s.source, s.caption).filter { $0.0 == MetaSelection.fromDev }.map(\.1)
        XCTAssertEqual(dev, (0..<60).map { Int64($0) }, "every dev pair")
        let train = (0..<s.caption.count).filter { s.source[$0] == MetaSelection.fromTrain }
        XCTAssertEqual(train.count, 6)
        let chosen = Set(train.map { Int(s.image[$0]) })
        XCTAssertEqual(chosen.count, 6)
        for p in train { XCTAssertEqual(Int(s.caption[p]) / 5, Int(s.image[p]), "a caption of the chosen image") }
        for j in 0..<200 { XCTAssertEqual(s.trainKeep[j], chosen.contains(j / 5) ? 0 : 1) }
        // Default: 6,328 / 113,287 of the training images.
        XCTAssertEqual(MetaSelection.defaultCocoTrainImages(trainImages: 113_287), 6328)
        XCTAssertEqual(MetaSelection.defaultCocoTrainImages(trainImages: 40), 2)
        XCTAssertThrowsError(try MetaSelection.select(corpus: corpus, options: .init(rule: .coco, seed: 8, disjoint: true)),
                             "disjoint COCO leaves no dev image to select with")
    }

    func testGivenUsesTheMetaSplit() throws {
        let s = try MetaSelection.select(corpus: corpus, options: .init(rule: .given, seed: 0)).split
        XCTAssertEqual(s.caption, (0..<15).map { Int64($0) })
        XCTAssertEqual(s.image, (0..<15).map { Int64($0 / 5) })
        XCTAssertTrue(s.source.allSatisfy { $0 == MetaSelection.fromMeta })
        let noMeta = TinyCorpus.make(meta: nil)
        XCTAssertThrowsError(try MetaSelection.select(corpus: noMeta, options: .init(rule: .given, seed: 0)))
    }

    func testErrors() {
        // floor(0.001 · 200) = 0 pairs.
        XCTAssertThrowsError(try MetaSelection.select(corpus: corpus, options: .init(rule: .flickr, seed: 0, metaFraction: 0.001))) {
            XCTAssertTrue("\($0)".contains("empty"))
        }
        // 0.5 · 200 = 100 pairs, dev has 60 captions.
        XCTAssertThrowsError(try MetaSelection.select(corpus: corpus, options: .init(rule: .flickr, seed: 0, metaFraction: 0.5))) {
            XCTAssertTrue("\($0)".contains("too large"))
        }
        XCTAssertThrowsError(try MetaSelection.select(corpus: corpus, options: .init(rule: .coco, seed: 0, cocoTrainImages: 41)))
    }
}
