/// Builds the full `[images, captions]` score matrix shard by shard, averaging several models
/// (the A+B ensemble) as it goes, so working memory stays one shard per model plus the matrix.
public enum ShardedScores {
    /// `scorers` each return the scores of images `i` × captions `c` as a row-major
    /// `[i.count, c.count]` block. Shards are `imageShard × captionShard` pairs.
    public static func matrix(images: Int, captions: Int, imageShard: Int, captionShard: Int,
                              scorers: [(Range<Int>, Range<Int>) throws -> [Float]],
                              progress: ((Int, Int) -> Void)? = nil) throws -> [Float] {
        precondition(!scorers.isEmpty && imageShard > 0 && captionShard > 0, "need scorers and positive shard sizes")
        var out = [Float](repeating: 0, count: images * captions)
        let scale = 1 / Float(scorers.count)
        let shardsTotal = ((images + imageShard - 1) / imageShard) * ((captions + captionShard - 1) / captionShard)
        var shardsDone = 0
        var i0 = 0
        while i0 < images {
            let ir = i0..<min(i0 + imageShard, images)
            var c0 = 0
            while c0 < captions {
                let cr = c0..<min(c0 + captionShard, captions)
                for scorer in scorers {
                    let block = try scorer(ir, cr)
                    precondition(block.count == ir.count * cr.count, "scorer returned \(block.count) scores for a \(ir.count)×\(cr.count) shard")
                    for (a, i) in ir.enumerated() {
                        let row = i * captions
                        for (b, c) in cr.enumerated() { out[row + c] += scale * block[a * cr.count + b] }
                    }
                }
                shardsDone += 1
                progress?(shardsDone, shardsTotal)
                c0 = cr.upperBound
            }
            i0 = ir.upperBound
        }
        return out
    }
}
