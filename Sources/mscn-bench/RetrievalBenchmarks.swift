import Foundation
import MSCNRandom
import Retrieval

/// Ranking cost of the evaluation: Flickr30K test (1,000 × 5,000) and COCO 5K (5,000 × 25,000,
/// 500 MB of scores) including the five 1K folds. Target: well under a second each, negligible
/// next to scoring the pairs.
enum RetrievalBenchmarks {
    static var all: [Benchmark] {
        [Benchmark(name: "retrieval-ranks") {
            for (images, folds) in [(1000, false), (5000, true)] {
                var g = SeededGenerator(seed: 1, stream: "bench-retrieval")
                let scores = (0..<(images * images * 5)).map { _ in g.unitFloat() }
                let start = Date()
                do {
                    let m = try Retrieval.evaluate(scores: scores, images: images, captionsPerImage: 5)
                    var line = String(format: "%d x %d: whole %.3f s (rsum %.1f)", images, images * 5,
                                      Date().timeIntervalSince(start), m.rsum)
                    if folds {
                        let t = Date()
                        _ = try Retrieval.evaluateFolds(scores: scores, images: images, captionsPerImage: 5)
                        line += String(format: ", 5 folds of 1K %.3f s", Date().timeIntervalSince(t))
                    }
                    print(line)
                } catch {
                    print("retrieval-ranks: \(error)")
                }
            }
        }]
    }
}
