import Artefacts
import Foundation
import StageKit
import TensorFile

/// Where the artefacts of an ingested data set sit inside a finished run folder
/// (`Data/runs/<name>/`, see `Sources/Pipeline/RunFolder.swift`): the stage names of
/// `Pipelines/mscn.yaml` — `ingest/data/{corpus.tzst,vocab.json}`, `features_<split>/features`,
/// `noise/map`, `split/meta` — and `params.json` for the noise ratio.
public struct ExportSources: Sendable {
    public var folder: String
    public var corpus: String
    public var vocabulary: String
    public var noise: String?
    public var meta: String?
    /// The requested noise ratio, from `params.json` or the noise file's metadata.
    public var noiseRatio: String?

    /// Finds the inputs; a missing corpus or vocabulary is an error naming the folder.
    public init(runFolder folder: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw StageError("no such run folder", path: folder)
        }
        self.folder = folder
        func need(_ rel: String, _ what: String) throws -> String {
            let p = folder + "/" + rel
            guard fm.fileExists(atPath: p) else {
                throw StageError("not a finished run folder: \(rel) (\(what)) is missing", path: folder)
            }
            return p
        }
        corpus = try need("ingest/data/corpus.tzst", "the ingested corpus")
        vocabulary = try need("ingest/data/vocab.json", "the vocabulary")
        noise = fm.fileExists(atPath: folder + "/noise/map") ? folder + "/noise/map" : nil
        meta = fm.fileExists(atPath: folder + "/split/meta") ? folder + "/split/meta" : nil
        noiseRatio = Self.ratio(params: folder + "/params.json", noise: noise)
    }

    /// Region features `[N, R, D]` of a split: the features stage's output, else (precomp
    /// ingest) the ingested file when it already holds features. Nil when neither exists.
    public func features(_ split: String) -> String? {
        let fm = FileManager.default
        let stage = folder + "/features_\(split)/features"
        if fm.fileExists(atPath: stage) { return stage }
        let ingested = folder + "/ingest/data/images-\(split).tzst"
        if fm.fileExists(atPath: ingested), let r = try? TensorFileReader(path: ingested), r.contains(Schema.features) {
            return ingested
        }
        return nil
    }

    /// The noise map's own record of its ratio comes first: params.json says what the run asked
    /// for, which a hand-placed map need not be.
    static func ratio(params: String, noise: String?) -> String? {
        if let noise, let r = try? TensorFileReader(path: noise), let v = r.metadata["ratio"] { return v }
        if let data = FileManager.default.contents(atPath: params),
           let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let p = root["params"] as? [String: Any], let v = p["noise"] {
            return "\(v)"
        }
        return nil
    }
}
