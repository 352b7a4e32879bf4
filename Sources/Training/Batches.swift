import MSCNRandom

/// One training batch: captions paired with the image the (noisy) map gives them.
public struct IndexBatch: Sendable {
    /// Caption indices inside the training split.
    public var captionIndices: [Int]
    /// Image index each caption is paired with (the noisy map's image).
    public var imageIndices: [Int]
    /// Meta labels (1 = clean pair, 0 = mismatched); empty for training batches.
    public var labels: [Float]

    public init(captionIndices: [Int], imageIndices: [Int], labels: [Float] = []) {
        self.captionIndices = captionIndices
        self.imageIndices = imageIndices
        self.labels = labels
    }

    public var count: Int { captionIndices.count }
}

/// Splits a shuffled list of captions into batches for one epoch.
public enum BatchPlan {
    /// Shuffles `captions` with `generator` and cuts batches of `batchSize`. A final batch of one
    /// caption is dropped: batch norm needs two samples (SPEC §6, as the reference does).
    public static func epoch(captions: [Int], imageOf: (Int) -> Int, batchSize: Int,
                             generator: inout SeededGenerator) -> [IndexBatch] {
        precondition(batchSize > 0, "batch size must be positive")
        var order = captions
        generator.shuffle(&order)
        var batches: [IndexBatch] = []
        var start = 0
        while start < order.count {
            let end = min(start + batchSize, order.count)
            let slice = Array(order[start..<end])
            if slice.count >= 2 {
                batches.append(IndexBatch(captionIndices: slice, imageIndices: slice.map(imageOf)))
            }
            start = end
        }
        return batches
    }
}

extension BatchPlan {
    /// How many batches `epoch` cuts from `captions` captions.
    public static func count(_ captions: Int, batchSize: Int) -> Int {
        captions / batchSize + (captions % batchSize >= 2 ? 1 : 0)
    }
}

/// Learning rate for a schedule epoch: `base · 0.1^(epoch / decayEvery)` (SPEC §6).
public func scheduledLearningRate(base: Float, epoch: Int, decayEvery: Int) -> Float {
    guard decayEvery > 0 else { return base }
    var lr = base
    for _ in 0..<(max(epoch, 0) / decayEvery) { lr *= 0.1 }
    return lr
}
