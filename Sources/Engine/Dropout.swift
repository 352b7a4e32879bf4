import MSCNRandom

/// Where dropout masks come from: drawn from a seeded generator (and remembered), or replayed
/// from an earlier recording so several forwards (e.g. the ± evaluations of a finite
/// difference) see exactly the same masks.
public final class DropoutSource {
    public var generator: SeededGenerator
    public private(set) var recorded: [[Float]] = []
    var replay: [[Float]]?
    var replayIndex = 0

    public init(generator: SeededGenerator) { self.generator = generator }

    /// Replays `masks` in order instead of drawing.
    public init(replaying masks: [[Float]]) {
        generator = SeededGenerator(seed: 0)
        replay = masks
    }

    /// A mask with entries 0 (probability p) or 1/(1−p).
    public func mask(count: Int, p: Float) -> [Float] {
        if let replay {
            precondition(replayIndex < replay.count && replay[replayIndex].count == count, "dropout replay out of step")
            defer { replayIndex += 1 }
            return replay[replayIndex]
        }
        let keep = 1 / (1 - p)
        // A local copy of the generator keeps its state in registers (a stored property of a class
        // is reloaded and stored back around every draw); the stream is the same.
        var local = generator
        let m = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            for i in 0..<count { buffer[i] = local.unitFloat() >= p ? keep : 0 }
            initialised = count
        }
        generator = local
        recorded.append(m)
        return m
    }
}

extension Tape {
    /// Inverted dropout (training only; identity when p = 0 or no source is given).
    public func dropout(_ x: Var, p: Float, source: DropoutSource?) -> Var {
        guard p > 0, let source else { return x }
        return mask(x, source.mask(count: values[x.id].count, p: p))
    }
}
