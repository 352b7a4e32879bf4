/// A problem with a score matrix handed to `Retrieval`.
public struct RetrievalError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Ranks and metrics from an image × caption score matrix (SPEC §8).
///
/// The matrix is `[images, images · K]`, row-major: entry `[i][j]` scores image `i` with caption
/// `j`, and caption `j` belongs to image `j / K`. Ranks are 0-based.
///
/// Tie rule: candidates are ordered by score, highest first, and equal scores by index, lowest
/// first (what a stable descending sort gives). A candidate's rank is its position in that order.
/// The reference uses numpy's unstable `argsort` reversed, whose tie order is unspecified; with
/// continuous scores ties do not occur, and this rule makes the result deterministic when they do.
///
/// Cost: O(images · captions) comparisons, no sorting, one pass over the matrix per direction.
public enum Retrieval {
    /// For every image, the rank among all captions of the best-ranked of its own K captions.
    public static func imageToTextRanks(scores: [Float], images: Int, captionsPerImage k: Int) throws -> [Int] {
        try check(scores, images, k)
        return scores.withUnsafeBufferPointer {
            imageToText(Window(base: $0, stride: images * k, firstImage: 0, images: images, k: k))
        }
    }

    /// For every caption, the rank of its own image among all images.
    public static func textToImageRanks(scores: [Float], images: Int, captionsPerImage k: Int) throws -> [Int] {
        try check(scores, images, k)
        return scores.withUnsafeBufferPointer {
            textToImage(Window(base: $0, stride: images * k, firstImage: 0, images: images, k: k))
        }
    }

    /// Metrics over the whole matrix (e.g. Flickr30K test, COCO "5K").
    public static func evaluate(scores: [Float], images: Int, captionsPerImage k: Int) throws -> RetrievalMetrics {
        try check(scores, images, k)
        return scores.withUnsafeBufferPointer { buf in
            let w = Window(base: buf, stride: images * k, firstImage: 0, images: images, k: k)
            return RetrievalMetrics(imageToTextRanks: imageToText(w), textToImageRanks: textToImage(w))
        }
    }

    /// Metrics per fold of `foldImages` consecutive images (and their captions), each fold ranked
    /// only against itself, and their mean: COCO "1K" is `foldImages = 1000` on the 5,000 test
    /// images. `images` must be a multiple of `foldImages`.
    public static func evaluateFolds(scores: [Float], images: Int, captionsPerImage k: Int,
                                     foldImages: Int = 1000) throws -> (folds: [RetrievalMetrics], mean: RetrievalMetrics) {
        try check(scores, images, k)
        guard foldImages > 0, images % foldImages == 0 else {
            throw RetrievalError("\(images) images cannot be cut into folds of \(foldImages)")
        }
        let folds = scores.withUnsafeBufferPointer { buf in
            (0..<(images / foldImages)).map { f -> RetrievalMetrics in
                let w = Window(base: buf, stride: images * k, firstImage: f * foldImages, images: foldImages, k: k)
                return RetrievalMetrics(imageToTextRanks: imageToText(w), textToImageRanks: textToImage(w))
            }
        }
        return (folds, RetrievalMetrics.mean(folds))
    }

    static func check(_ scores: [Float], _ images: Int, _ k: Int) throws {
        guard images > 0, k > 0 else {
            throw RetrievalError("score matrix needs at least one image and one caption per image (got \(images) images, K=\(k))")
        }
        guard scores.count == images * images * k else {
            throw RetrievalError("score matrix has \(scores.count) entries, expected \(images) × \(images * k)")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw RetrievalError("score matrix entry [\(bad / (images * k))][\(bad % (images * k))] is \(scores[bad])")
        }
    }

    /// A square block of the matrix: images `firstImage ..< firstImage + images` and their captions.
    struct Window {
        let base: UnsafeBufferPointer<Float>
        let stride: Int
        let firstImage: Int
        let images: Int
        let k: Int
        var captions: Int { images * k }
        /// Image `i`, caption `j`, both relative to the window.
        @inline(__always) func score(_ i: Int, _ j: Int) -> Float {
            base[(firstImage + i) * stride + firstImage * k + j]
        }
    }

    /// `a` (index `ia`) comes before `b` (index `ib`) in the tie-broken descending order.
    @inline(__always) static func before(_ a: Float, _ ia: Int, _ b: Float, _ ib: Int) -> Bool {
        a > b || (a == b && ia < ib)
    }

    static func imageToText(_ w: Window) -> [Int] {
        (0..<w.images).map { i in
            // The first own caption in the order; only other images' captions can precede it.
            var best = i * w.k
            for j in (i * w.k + 1)..<((i + 1) * w.k) where before(w.score(i, j), j, w.score(i, best), best) { best = j }
            let target = w.score(i, best)
            var rank = 0
            for j in 0..<w.captions where before(w.score(i, j), j, target, best) { rank += 1 }
            return rank
        }
    }

    static func textToImage(_ w: Window) -> [Int] {
        let targets = (0..<w.captions).map { w.score($0 / w.k, $0) }
        var ranks = [Int](repeating: 0, count: w.captions)
        // Row by row, so the matrix is read in memory order.
        for i in 0..<w.images {
            for j in 0..<w.captions where before(w.score(i, j), i, targets[j], j / w.k) { ranks[j] += 1 }
        }
        return ranks
    }
}
