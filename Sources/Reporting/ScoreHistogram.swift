import Foundation
import Purification
import TensorFile

/// Scores of the training captions from a purification `mask.tzst` (`score` f32 `[M]`).
public enum MaskScores {
    public static func load(_ path: String) throws -> [Float] {
        let r = try TensorFileReader(path: path)
        guard r.contains("score") else { throw ReportError("mask file has no 'score' tensor", path: path) }
        let t = try r.read("score")
        guard t.shape.count == 1 else { throw ReportError("'score' has shape \(t.shape), expected [M]", path: path) }
        let s = try t.floats()
        if let bad = s.first(where: { !$0.isFinite }) { throw ReportError("'score' holds \(bad)", path: path) }
        return s
    }
}

/// The training captions purification scored, picked out of a mask, with their clean labels.
///
/// `mscn-purify` writes masks over every caption of the training split and scores only those
/// `train_keep` (of `meta.tzst`) leaves in training; the others hold 0. Masks over the kept
/// captions only are accepted too.
public enum ScoredCaptions {
    ///
    /// Without `train_keep`, when the report says fewer captions were scored than the mask holds,
    /// the entries exactly 0 are taken as unscored (scored ones are clamped to at least 1e-3).
    public static func select(scores: [Float], maskPath: String, clean: [UInt8]?, noisePath: String?,
                              trainKeep: [UInt8]?, metaPath: String?, expected: Int? = nil) throws -> (scores: [Float], clean: [UInt8]?) {
        guard let keep = trainKeep, !keep.isEmpty else {
            if let clean, clean.count != scores.count {
                throw ReportError("\(clean.count) clean labels but the masks score \(scores.count) captions (give --meta to align them)", path: noisePath)
            }
            if let n = expected, n < scores.count {
                let scored = scores.indices.filter { scores[$0] != 0 }
                if scored.count == n { return (scored.map { scores[$0] }, clean.map { c in scored.map { c[$0] } }) }
            }
            return (scores, clean)
        }
        let kept = keep.indices.filter { keep[$0] != 0 }
        if let clean, clean.count != keep.count {
            throw ReportError("train_keep has \(keep.count) entries, noise.tzst has \(clean.count)", path: metaPath)
        }
        if keep.count == scores.count {
            return (kept.map { scores[$0] }, clean.map { c in kept.map { c[$0] } })
        }
        guard kept.count == scores.count else {
            throw ReportError("\(scores.count) scores fit neither the \(keep.count) captions of train_keep nor the \(kept.count) it keeps", path: maskPath)
        }
        return (scores, clean.map { c in kept.map { c[$0] } })
    }
}

/// Histogram of clean vs noisy training scores (each as a density over all M captions, so the
/// two bar sets add up to the score density) with the weighted fitted Beta densities on top.
struct ScoreHistogram {
    static let bins = 40

    /// The score range shown: all of [0, 1] unless the scores crowd into less than half of it
    /// (an untrained net scores everything near 0.5), then that part, widened to round steps.
    static func range(_ scores: [Float]) -> (lo: Double, hi: Double) {
        guard let mn = scores.min().map(Double.init), let mx = scores.max().map(Double.init) else { return (0, 1) }
        if mx - mn > 0.5 { return (0, 1) }
        if mx - mn < 1e-9 { return (max(0, mn - 0.01), min(1, mx + 0.01)) }
        let step = LinearScale.niceStep(mx - mn, 4)
        // The slack keeps Float scores such as 0.6 (0.60000002) from opening a further step.
        let lo = max(0, (mn / step + 1e-4).rounded(.down) * step), hi = min(1, (mx / step - 1e-4).rounded(.up) * step)
        return hi - lo > 0.5 ? (0, 1) : (lo, hi)
    }

    /// Bar heights over `bins` equal bins of `range`: `count / (M · binWidth)`.
    static func densities(_ scores: [Float], select: (Int) -> Bool, total: Int, range: (lo: Double, hi: Double)) -> [Double] {
        var counts = [Int](repeating: 0, count: bins)
        let w = (range.hi - range.lo) / Double(bins)
        for (i, s) in scores.enumerated() where select(i) {
            let b = min(bins - 1, max(0, Int(((Double(s) - range.lo) / w).rounded(.down))))
            counts[b] += 1
        }
        return counts.map { Double($0) / (Double(max(total, 1)) * w) }
    }

    static func chart(id: String, title: String, scores: [Float], clean: [UInt8]?, mixture: BetaMixture?) -> Chart {
        let r = range(scores)
        let w = (r.hi - r.lo) / Double(bins)
        func bars(_ d: [Double]) -> [(x: Double, y: Double?)] { d.enumerated().map { (r.lo + Double($0.offset) * w, $0.element) } }
        var series: [Series] = []
        var heights: [Double] = []
        if let clean {
            let c = densities(scores, select: { clean[$0] != 0 }, total: scores.count, range: r)
            let nz = densities(scores, select: { clean[$0] == 0 }, total: scores.count, range: r)
            let nc = clean.lazy.filter { $0 != 0 }.count
            heights = c + nz
            series.append(Series(label: "clean pairs (n=\(nc))", color: Palette.blue, points: bars(c), kind: .bars(width: w), opacity: 0.45))
            series.append(Series(label: "noisy pairs (n=\(clean.count - nc))", color: Palette.vermillion, points: bars(nz), kind: .bars(width: w), opacity: 0.45))
        } else {
            let all = densities(scores, select: { _ in true }, total: scores.count, range: r)
            heights = all
            series.append(Series(label: "all pairs (n=\(scores.count))", color: Palette.grey, points: bars(all), kind: .bars(width: w), opacity: 0.45))
        }
        let yDomain = LinearScale.niceDomain([0, max(heights.max() ?? 1, 0.1) * 1.15])
        // A Beta with a < 1 or b < 1 runs to infinity at the edges: cut it at the frame.
        let top = yDomain.hi
        if let m = mixture {
            let span = r.hi - r.lo
            let xs = (0...200).map { r.lo + span * (0.0025 + 0.995 * Double($0) / 200) }
            func curve(_ p: BetaParameters, _ weight: Double) -> [(x: Double, y: Double?)] {
                xs.map { x in
                    let d = weight * exp(p.logDensity(x))
                    return (x, d.isFinite ? min(d, top) : nil)
                }
            }
            series.append(Series(label: "clean Beta(\(Fmt.compact(m.clean.alpha)), \(Fmt.compact(m.clean.beta))) × \(Fmt.f(m.weights[1]))",
                                 color: Palette.blue, points: curve(m.clean, m.weights[1]), lineWidth: 2.2))
            series.append(Series(label: "noisy Beta(\(Fmt.compact(m.noisy.alpha)), \(Fmt.compact(m.noisy.beta))) × \(Fmt.f(m.weights[0]))",
                                 color: Palette.vermillion, points: curve(m.noisy, m.weights[0]), dash: "6 3", lineWidth: 2.2))
        }
        let zoom = r == (0, 1) ? "" : " (zoomed to \(Fmt.tick(r.lo))–\(Fmt.tick(r.hi)))"
        var chart = Chart(id: id, title: title, xLabel: "score of caption with its (noisy) image" + zoom, yLabel: "density", series: series)
        chart.width = 540
        chart.height = 330
        chart.xDomain = r
        chart.yDomain = yDomain
        return chart
    }
}
