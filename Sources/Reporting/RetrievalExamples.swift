import Artefacts
import Foundation
import TensorFile

/// A few text→image queries from the test split: the caption, its top-5 images by ensemble score
/// with the correct one marked, and the rank of the correct image.
public enum RetrievalExamples {
    public struct Query: Equatable, Sendable {
        public var caption: Int
        public var correctImage: Int
        public var top: [Int]
        /// 1-based rank of the correct image.
        public var rank: Int
    }

    /// Captions `k·M/count` for k = 0…count−1: spread over the split, the same every time.
    public static func queries(scores: [Float], images: Int, captions: Int, perImage: Int, count: Int, topK: Int = 5) -> [Query] {
        guard images > 0, captions > 0, count > 0 else { return [] }
        let picks = (0..<min(count, captions)).map { $0 * captions / min(count, captions) }
        return picks.map { j in
            let column = (0..<images).map { scores[$0 * captions + j] }
            // Higher score first; equal scores by image index, so the order is fixed.
            let order = (0..<images).sorted { column[$0] != column[$1] ? column[$0] > column[$1] : $0 < $1 }
            let correct = j / perImage
            let rank = (order.firstIndex(of: correct) ?? images - 1) + 1
            return Query(caption: j, correctImage: correct, top: Array(order.prefix(topK)), rank: rank)
        }
    }

    static func section(_ inputs: RunReportInputs) throws -> String {
        let needed = [("--examples-scores", inputs.examplesScores), ("--examples-corpus", inputs.examplesCorpus), ("--vocab", inputs.vocab)]
        let absent = needed.filter { $0.1 == nil }.map(\.0)
        guard absent.isEmpty, let scoresPath = inputs.examplesScores, let corpusPath = inputs.examplesCorpus, let vocabPath = inputs.vocab else {
            return HTMLPage.missing("retrieval examples (missing \(absent.joined(separator: ", "))).")
        }
        let reader = try TensorFileReader(path: scoresPath)
        let st = try reader.read("scores")
        guard st.shape.count == 2 else { throw ReportError("'scores' has shape \(st.shape), expected [N_images, M_captions]", path: scoresPath) }
        let scores = try st.floats()
        let split = try Corpus.load(corpusPath).split("test", path: corpusPath)
        let (n, m) = (st.shape[0], st.shape[1])
        guard m == split.captionCount, n == split.imageCount else {
            throw ReportError("scores are \(n)×\(m) but the test split has \(split.imageCount) images and \(split.captionCount) captions", path: scoresPath)
        }
        let words = try WordTable.load(vocabPath)
        let qs = queries(scores: scores, images: n, captions: m, perImage: split.captionsPerImage, count: inputs.exampleCount)

        var pixels: TensorFileReader? = nil
        var o = ""
        if let imagesPath = inputs.examplesImages {
            let r = try TensorFileReader(path: imagesPath)
            if r.contains("pixels") {
                let info = try r.info("pixels")
                guard info.shape.count == 4, info.shape[3] == 3, info.shape[0] == n else {
                    throw ReportError("'pixels' has shape \(info.shape), expected [\(n), H, W, 3]", path: imagesPath)
                }
                pixels = r
            } else {
                o += HTMLPage.missing("thumbnails (the test images are precomputed features, no pixels).")
            }
        } else {
            o += HTMLPage.missing("thumbnails (no --examples-images given).")
        }
        o += "<p>Text→image retrieval with the A+B ensemble on the test split: each caption and its five best-scored images; "
        o += "the correct image has a green frame and a ✓.</p>\n"
        for q in qs {
            o += "<div class=\"example\" data-caption=\"\(q.caption)\" data-rank=\"\(q.rank)\">\n"
            o += "<div class=\"query\">Caption \(q.caption): “<b>\(escapeXML(words.text(split.caption(q.caption))))</b>” — correct image \(q.correctImage) ranked <b>\(q.rank)</b> of \(n)</div>\n<div class=\"thumbs\">"
            for (i, img) in q.top.enumerated() {
                let ok = img == q.correctImage
                o += "<div class=\"thumb\(ok ? " correct" : "")\" data-image=\"\(img)\">"
                if let r = pixels {
                    let t = try r.readRows("pixels", img..<(img + 1))
                    o += try Thumbnail.img(pixels: try t.uint8s(), width: t.shape[2], height: t.shape[1], side: 128, alt: "test image \(img)")
                }
                o += "#\(i + 1) · image \(img)\(ok ? " ✓" : "")<br><span class=\"score\">score \(Fmt.f(Double(scores[img * m + q.caption]), 3))</span></div>"
            }
            o += "</div>\n</div>\n"
        }
        return o
    }
}
