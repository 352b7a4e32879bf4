import Foundation
import TestSupport
import XCTest

/// A tiny but complete experiment on disk: built-in data of a few images, ingested, featurised,
/// with noise and a meta split, and the tiny model options the training stages share.
struct TinyExperiment {
    let root: URL
    var corpus: String { root.appendingPathComponent("data/corpus.tzst").path }
    func features(_ split: String) -> String { root.appendingPathComponent("features-\(split).tzst").path }
    var noise: String { root.appendingPathComponent("noise.tzst").path }
    var meta: String { root.appendingPathComponent("meta.tzst").path }
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// Options that keep one step in the milliseconds.
    static let model = ["--embed-size", "16", "--sim-dim", "8", "--word-dim", "8", "--meta-hidden", "8",
                        "--warmup-batch-size", "16", "--batch-size", "16", "--warmup-epochs", "1", "--lr", "0.001"]

    var common: [String] {
        ["--features", features("train"), "--corpus", corpus, "--noise", noise, "--meta", meta,
         "--dev-features", features("dev"), "--seed", "3"]
    }

    private static var madeFor: [ObjectIdentifier: TinyExperiment] = [:]

    /// One experiment per test class, made on first use and kept for the class's other tests
    /// (each class its own, so the file names its tests write cannot collide with another's).
    static func shared(by owner: AnyClass) throws -> TinyExperiment {
        if let e = madeFor[ObjectIdentifier(owner)] { return e }
        let e = try make()
        madeFor[ObjectIdentifier(owner)] = e
        return e
    }

    static func make() throws -> TinyExperiment {
        let root = TestPaths.temporaryDirectory("tiny-experiment")
        let e = TinyExperiment(root: root)
        try run("mscn", ["dataset", "generate", "--out", e.path("raw"), "--train", "12", "--dev", "6", "--test", "6",
                         "--size", "32", "--seed", "5"])
        try run("mscn-ingest", ["--layout", "images", "--root", e.path("raw"), "--out-dir", e.path("data"),
                                "--min-count", "1", "--image-size", "32"])
        for split in ["train", "dev", "test"] {
            try run("mscn-features", ["--images", e.path("data/images-\(split).tzst"), "--out", e.features(split), "--dim", "24"])
        }
        try run("mscn-noise", ["--corpus", e.corpus, "--ratio", "0.5", "--seed", "3", "--out", e.noise])
        try run("mscn-split", ["--corpus", e.corpus, "--rule", "flickr", "--meta-fraction", "0.2", "--seed", "3", "--out", e.meta])
        return e
    }

    func warmup(_ net: String, out: String) throws {
        try Self.run("mscn-train", ["--mode", "warmup", "--net", net] + common + Self.model + ["--out", out, "--log", out + ".log"])
    }

    @discardableResult
    static func run(_ product: String, _ args: [String]) throws -> ProcessResult {
        let r = try runProduct(product, args)
        if r.status != 0 {
            XCTFail("\(product) \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
            throw TinyExperimentError.stageFailed(product)
        }
        return r
    }
}

enum TinyExperimentError: Error { case stageFailed(String) }
