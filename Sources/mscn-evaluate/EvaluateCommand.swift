import ArgumentParser
import Artefacts
import Foundation
import MSCN
import Retrieval
import StageKit
import TensorFile
import Training

/// `mscn-evaluate`: scores every (image, caption) pair of a split with net A, net B or their
/// average (the reference's A+B ensemble), in shards, and reports R@K, medr, meanr and rSum.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscn-evaluate",
        abstract: "Evaluate image↔text retrieval of one net or the A+B ensemble on a split.",
        discussion: """
        Writes --out (metrics.json with keys i2t_r1 i2t_r5 i2t_r10 i2t_medr i2t_meanr t2i_r1 t2i_r5 \
        t2i_r10 t2i_medr t2i_meanr rsum) and prints a table. With --folds 1000 (COCO 1K) the metrics \
        are the mean over folds of that many images; the whole-split figures (COCO 5K) are added to \
        the JSON under "whole". --scores keeps the averaged score matrix for reports. With --meta and \
        a disjoint meta split, only the dev images chosen for model selection are evaluated.
        """
    )

    @Option(name: .customLong("ckpt-a"), help: "Checkpoint of net A.") var checkpointA: String
    @Option(name: .customLong("ckpt-b"), help: "Checkpoint of net B (omit for a single-model evaluation).") var checkpointB: String?
    @Option(help: "Features of the evaluated split (features-<split>.tzst).") var features: String
    @Option(help: "Corpus (corpus.tzst).") var corpus: String
    @Option(help: "Split to evaluate: test or dev.") var split: String = "test"
    @Option(help: "Meta split; its dev_select limits a dev evaluation to the model-selection images.") var meta: String?
    @Option(help: "Images per fold (e.g. 1000 for COCO 1K); 0 evaluates the whole split.") var folds: Int = 0
    @Option(help: "Output metrics (JSON).") var out: String
    @Option(help: "Also write the score matrix here (tensor file, `scores` f32 [N, M]).") var scores: String?
    @Option(name: .customLong("image-shard"), help: "Images per scoring shard.") var imageShard: Int = 500
    @Option(name: .customLong("caption-shard"), help: "Captions per scoring shard.") var captionShard: Int = 500

    func validate() throws {
        guard imageShard > 0, captionShard > 0, folds >= 0 else { throw ValidationError("shard sizes must be positive, --folds non-negative") }
        try StageOutputs.requireDistinct([("--out", out), ("--scores", scores)])
    }

    func run() throws {
        Stage.run("mscn-evaluate") {
            try StageOutputs.requireWritableFolders([out, scores])
            let c = try Corpus.load(corpus)
            var caps = try c.split(split, path: corpus)
            var table = try FeatureTable(path: features)
            try table.requireSplit(split)
            guard table.count == caps.imageCount else {
                throw StageError("has \(table.count) images, the corpus's \(split) split has \(caps.imageCount)", path: features)
            }
            if let meta, split == "dev" {
                try TrainingData.requireMadeFrom(corpus, [(meta, "meta split")])
                let select = try MetaSplit.load(meta).devSelect
                guard select.count == table.count else {
                    throw StageError("dev_select has \(select.count) entries, the dev split has \(table.count) images", path: meta)
                }
                guard select.contains(where: { $0 != 0 }) else {
                    throw StageError("dev_select chooses none of the \(table.count) dev images for model selection", path: meta)
                }
                if select.contains(0) { (table, caps) = Self.subset(table, caps, keep: select) }
            }
            var models: [Model] = [try Checkpoint.load(checkpointA).model]
            if let checkpointB { models.append(try Checkpoint.load(checkpointB).model) }
            for (m, path) in zip(models, [checkpointA, checkpointB ?? ""]) {
                try ModelChecks.compatible(m.config, features: table, vocabularySize: c.vocabularySize, path: path)
            }
            let encoded = models.map { Scoring.encode($0, features: table, captions: caps, captionShard: captionShard) }
            let shardCount = ((table.count + imageShard - 1) / imageShard) * ((caps.captionCount + captionShard - 1) / captionShard)
            let progress = StageKit.Progress("evaluate \(split) shards", total: shardCount * models.count)
            let scorers: [(Range<Int>, Range<Int>) throws -> [Float]] = zip(models, encoded).map { pair in
                { ir, cr in try Scoring.shard(pair.0, pair.1, images: ir, captions: cr) }
            }
            let matrix = try ShardedScores.matrix(images: table.count, captions: caps.captionCount,
                                                  imageShard: imageShard, captionShard: captionShard,
                                                  scorers: scorers, progress: { d, _ in progress.update(d * models.count) })
            let k = caps.captionsPerImage
            let whole = try Retrieval.evaluate(scores: matrix, images: table.count, captionsPerImage: k)
            var json = try Self.object(whole)
            var shown = whole
            if folds > 0 {
                let f = try Retrieval.evaluateFolds(scores: matrix, images: table.count, captionsPerImage: k, foldImages: folds)
                shown = f.mean
                json = try Self.object(f.mean)
                json["whole"] = try Self.object(whole)
            }
            let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
            var writes: [(path: String, write: () throws -> Void)] = [(out, { try AtomicWrite.write(data, to: out) })]
            if let scores {
                writes.append((scores, {
                    try TensorFiles.write(scores, [StoredTensor(name: "scores", shape: [table.count, caps.captionCount], floats: matrix)],
                                          metadata: ["stage": "mscn-evaluate", "split": split])
                }))
            }
            try StageOutputs.writeAll(writes)
            print(shown.table(title: "\(split) (\(models.count == 2 ? "A+B" : "single net"), \(table.count) images)"))
        }
    }

    static func object(_ m: RetrievalMetrics) throws -> [String: Any] {
        let data = try JSONEncoder().encode(m)
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }

    /// The images `keep` marks and their captions.
    static func subset(_ t: FeatureTable, _ c: CaptionSet, keep: [UInt8]) -> (FeatureTable, CaptionSet) {
        let images = keep.indices.filter { keep[$0] != 0 }
        var tokens: [Int32] = [], offsets: [Int64] = [0]
        for i in images {
            for j in (i * c.captionsPerImage)..<((i + 1) * c.captionsPerImage) {
                tokens += c.caption(j)
                offsets.append(Int64(tokens.count))
            }
        }
        return (FeatureTable(values: t.gather(images), count: images.count, regions: t.regions, dim: t.dim, path: t.path),
                CaptionSet(tokens: tokens, offsets: offsets, captionsPerImage: c.captionsPerImage))
    }
}
