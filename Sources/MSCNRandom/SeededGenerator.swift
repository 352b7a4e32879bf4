/// The project's own seeded random generator (xoshiro256**, seeded through SplitMix64).
///
/// Swift's `shuffled(using:)` and `random(in:using:)` may change between releases, so every
/// sampling routine that feeds an artefact is written here: the same seed gives the same bits
/// on every machine and toolchain.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The full generator state; store it in checkpoints to resume a stream exactly.
    public var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        state = (sm.next(), sm.next(), sm.next(), sm.next())
        if state == (0, 0, 0, 0) { state.0 = 0x9E37_79B9_7F4A_7C15 }
    }

    /// An independent stream for one purpose of one stage (e.g. `"noise"`, `"dropout"`), so adding
    /// a draw in one place never shifts the numbers another place sees.
    public init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over the stream name, mixed with the seed
        for byte in stream.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        self.init(seed: seed ^ SplitMix64.mix(h))
    }

    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
    }

    public static func == (a: SeededGenerator, b: SeededGenerator) -> Bool {
        a.state == b.state
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inlinable
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// State as four words, for storing in a tensor file.
    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    public init?(stateWords w: [UInt64]) {
        guard w.count == 4, w != [0, 0, 0, 0] else { return nil }
        state = (w[0], w[1], w[2], w[3])
    }
}

/// SplitMix64: expands a 64-bit seed into well-mixed words.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }
    public static func mix(_ v: UInt64) -> UInt64 {
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
