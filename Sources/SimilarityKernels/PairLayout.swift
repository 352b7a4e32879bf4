/// How a forward's pairs are cut into work groups: one image against a contiguous range of
/// captions, whose words are contiguous in the packed word matrix. Every per-group buffer
/// stores the group's local (word) rows first, then one global row per pair.
struct PairGroup {
    var image: Int
    var captionLo: Int
    var captionHi: Int
    /// First packed word row of `captionLo`.
    var wordLo: Int
    /// Σ lengths of the group's captions.
    var words: Int
    var pairCount: Int { captionHi - captionLo }
    /// Node rows: the words' local nodes, then one global node per pair.
    var nodes: Int { words + pairCount }
}

struct PairLayout {
    let lengths: [Int]
    /// Packed word offset of each caption (prefix sums of lengths), count Bc + 1.
    let wordOffset: [Int]
    /// Σ (L+1)² up to each caption: offsets of a pair's edge matrix inside its group.
    let edgeOffset: [Int]
    let groups: [PairGroup]
    let pairs: PairSet
    let captionCount: Int

    /// `maxGroupWords` bounds a group's word rows so buffers stay small for large shards.
    init(lengths: [Int], imageCount: Int, pairs: PairSet, maxGroupWords: Int) {
        self.lengths = lengths
        self.pairs = pairs
        captionCount = lengths.count
        var off = [0], eoff = [0]
        for l in lengths {
            off.append(off[off.count - 1] + l)
            eoff.append(eoff[eoff.count - 1] + (l + 1) * (l + 1))
        }
        wordOffset = off
        edgeOffset = eoff
        var gs: [PairGroup] = []
        switch pairs {
        case .diagonal:
            for i in 0..<imageCount {
                gs.append(PairGroup(image: i, captionLo: i, captionHi: i + 1, wordLo: off[i], words: lengths[i]))
            }
        case .all:
            // Cut captions into chunks of at most maxGroupWords words (at least one caption).
            var chunks: [(Int, Int)] = []
            var lo = 0
            while lo < lengths.count {
                var hi = lo + 1
                while hi < lengths.count && off[hi + 1] - off[lo] <= maxGroupWords { hi += 1 }
                chunks.append((lo, hi))
                lo = hi
            }
            for i in 0..<imageCount {
                for (lo, hi) in chunks {
                    gs.append(PairGroup(image: i, captionLo: lo, captionHi: hi, wordLo: off[lo], words: off[hi] - off[lo]))
                }
            }
        }
        groups = gs
    }

    /// Output row of pair (image, caption).
    @inline(__always)
    func pairIndex(image: Int, caption: Int) -> Int {
        pairs == .all ? image * captionCount + caption : image
    }

    var pairTotal: Int { groups.reduce(0) { $0 + $1.pairCount } }

    /// Local word row of `caption` inside `group`.
    @inline(__always)
    func localWord(_ group: PairGroup, _ caption: Int) -> Int { wordOffset[caption] - group.wordLo }

    /// Edge-matrix offset of `caption` inside `group`.
    @inline(__always)
    func localEdge(_ group: PairGroup, _ caption: Int) -> Int { edgeOffset[caption] - edgeOffset[group.captionLo] }

    /// Longest caption of a group.
    func maxLength(_ group: PairGroup) -> Int { lengths[group.captionLo..<group.captionHi].max() ?? 0 }

    func edgeCount(_ group: PairGroup) -> Int { edgeOffset[group.captionHi] - edgeOffset[group.captionLo] }
}
