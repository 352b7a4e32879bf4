import Artefacts
import MSCNRandom
import TensorFile

/// How synthetic noisy correspondence is made.
public enum NoiseProtocol: String, CaseIterable, Sendable {
    /// The reference's caption-level shuffle (SPEC §2): captions move one by one.
    case caption
    /// All K captions of a chosen image move together to another chosen image.
    case image
}

/// Synthetic noisy caption→image maps and imported ones, with their clean labels.
public enum NoiseInjection {
    /// `floor(ratio · count)` as the reference computes it (`int(r * M)` on doubles).
    public static func noisyCount(ratio: Double, of count: Int) -> Int {
        Int((ratio * Double(count)).rounded(.down))
    }

    /// A noisy map over `images · K` captions whose clean map is `t2i[j] = j / K`.
    ///
    /// - `.caption` (SPEC §2): a random permutation `idx` of the M captions; the image ids of the
    ///   first `n = floor(r·M)` positions are shuffled among themselves and written back.
    /// - `.image`: the same on images: a random permutation of the N images, the first
    ///   `n = floor(r·N)` are chosen, and the list of chosen ids is shuffled (not a derangement), so
    ///   the captions of the k-th chosen image go to the k-th entry of the shuffled list.
    ///
    /// Both are plain shuffles, so some moved captions land on their own image and count as clean
    /// (SPEC quirk 5): the realised noise rate is slightly below `ratio`. The generator is
    /// `SeededGenerator(seed:, stream: "noise-<protocol>")`: Fisher–Yates permutation, then
    /// Fisher–Yates shuffle of the chosen ids.
    public static func inject(images: Int, captionsPerImage k: Int, ratio: Double, seed: UInt64,
                              protocol p: NoiseProtocol) throws -> NoisyMap {
        guard ratio >= 0, ratio < 1 else { throw DataPrepError("noise ratio \(ratio) is outside [0, 1)") }
        guard images > 0, k > 0 else { throw DataPrepError("cannot add noise to \(images) images with K=\(k)") }
        let m = images * k
        var t2i = (0..<m).map { Int64($0 / k) }
        var g = SeededGenerator(seed: seed, stream: "noise-\(p.rawValue)")
        switch p {
        case .caption:
            let idx = g.permutation(m)
            let n = noisyCount(ratio: ratio, of: m)
            var moved = idx[0..<n].map { t2i[$0] }
            g.shuffle(&moved)
            for (pos, image) in zip(idx[0..<n], moved) { t2i[pos] = image }
        case .image:
            let idx = g.permutation(images)
            let n = noisyCount(ratio: ratio, of: images)
            let chosen = Array(idx[0..<n])
            var target = chosen
            g.shuffle(&target)
            for (from, to) in zip(chosen, target) {
                for j in (from * k)..<((from + 1) * k) { t2i[j] = Int64(to) }
            }
        }
        return NoisyMap(imageOfCaption: t2i, clean: cleanLabels(t2i, captionsPerImage: k))
    }

    /// Reads a published noise index: one noisy image id per caption (length M) or one per image
    /// (length N, all K captions of image i go to entry i), told apart by length (with K = 1 the
    /// two agree). 1-D int32 or int64; every id must be an image of the split.
    public static func importIndex(_ t: StoredTensor, images: Int, captionsPerImage k: Int, path: String) throws -> NoisyMap {
        guard t.dtype == .i32 || t.dtype == .i64 else {
            throw DataPrepError("\(path): noise index is \(t.dtype.rawValue), expected int32 or int64")
        }
        guard t.shape.count == 1 else { throw DataPrepError("\(path): noise index has shape \(t.shape), expected one dimension") }
        let ids = try t.ints()
        let m = images * k
        let t2i: [Int64]
        if ids.count == m {
            t2i = ids.map { Int64($0) }
        } else if ids.count == images {
            t2i = (0..<m).map { Int64(ids[$0 / k]) }
        } else {
            throw DataPrepError("\(path): noise index has \(ids.count) entries, expected \(m) (one per caption) or \(images) (one per image)")
        }
        if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= images }) {
            throw DataPrepError("\(path): entry \(bad) is image \(ids[bad]), outside 0..<\(images)")
        }
        return NoisyMap(imageOfCaption: t2i, clean: cleanLabels(t2i, captionsPerImage: k))
    }

    /// `clean[j] = 1` exactly when caption `j` still points at its own image `j / K`.
    public static func cleanLabels(_ t2i: [Int64], captionsPerImage k: Int) -> [UInt8] {
        t2i.enumerated().map { $0.element == Int64($0.offset / k) ? 1 : 0 }
    }

    /// Fraction of captions whose clean label is 0.
    public static func realisedNoiseRate(_ map: NoisyMap) -> Double {
        guard !map.clean.isEmpty else { return 0 }
        return Double(map.clean.lazy.filter { $0 == 0 }.count) / Double(map.clean.count)
    }
}
