import Engine

extension Model {
    /// The main update alone (training loss, clip, Adam on θ; φ untouched): the steps between
    /// meta steps when `meta_interval` > 1.
    @discardableResult
    public func mainStep(_ batch: PairBatch, lr: Float) -> Float {
        precondition(batch.images.count >= 2, "mainStep: a batch needs at least 2 pairs (drop a final batch of 1)")
        return mainUpdate(batch, lr: lr).loss
    }
}
