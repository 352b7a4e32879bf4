import Artefacts
import Foundation
import TensorFile
import TestSupport
import XCTest

/// `mscn weights export|import`: weights written by PyTorch's `safetensors.torch.save_file` from
/// the official model (Golden/pytorch-weights, made from the parity dumps' parameters) import
/// bit for bit, score as the reference scored them, and travel back unchanged.
final class WeightsExchangeTests: XCTestCase {
    var work: URL!
    override func setUp() { work = TestPaths.temporaryDirectory("weights") }

    func path(_ name: String) -> String { work.appendingPathComponent(name).path }
    static func golden(_ name: String) -> String {
        TestPaths.packageRoot.appendingPathComponent("Tests/StageTests/Golden/pytorch-weights/\(name)").path
    }
    static func dump(_ module: String) -> URL { TestPaths.parityGolden.appendingPathComponent("\(module)/eval") }
    static func dumpArray(_ module: String, _ name: String) throws -> StoredTensor {
        try NPY.read(dump(module).appendingPathComponent(name.replacingOccurrences(of: "/", with: "__") + ".npy").path)
    }

    @discardableResult
    func mscn(_ args: [String], expect status: Int32 = 0, line: UInt = #line) throws -> ProcessResult {
        let r = try runProduct("mscn", args)
        XCTAssertEqual(r.status, status, "mscn \(args.joined(separator: " ")): \(r.stderr)", line: line)
        return r
    }

    /// The official code's own checkpoint format (`torch.save` of `{"net_A": state_dict, ...,
    /// "opt": Namespace}`, Golden/pytorch-weights/make_official_checkpoint.py) imports without
    /// Python: net A as the safetensors file of the same weights, net B (A's weights + 1) as itself.
    func testOfficialTorchCheckpointImportsAsItsSafetensorsTwin() throws {
        let a = path("a.tzst"), b = path("b.tzst"), twin = path("twin.tzst")
        let said = try mscn(["weights", "import", Self.golden("official-checkpoint.pth.tar"), a, b])
        // The epoch and best dev rSum the training script recorded are said and kept.
        XCTAssertTrue(said.stdout.contains("official-checkpoint.pth.tar: epoch 3, best_rsum 412.5"), said.stdout)
        XCTAssertEqual(try TensorFileReader(path: a).metadata["imported_best_rsum"], "412.5")
        XCTAssertEqual(try TensorFileReader(path: b).metadata["imported_epoch"], "3")
        try mscn(["weights", "import", Self.golden("reference-sgr.safetensors"), twin])
        let (ta, tb, tt) = (try TensorFiles.readAll(a).tensors, try TensorFiles.readAll(b).tensors, try TensorFiles.readAll(twin).tensors)
        let weights = tt.keys.filter { $0.hasPrefix("net/") || $0.hasPrefix("meta/") || $0.hasPrefix("buffers/") }
        XCTAssertGreaterThan(weights.count, 40)
        for name in weights {
            XCTAssertEqual(ta[name]?.bytes, tt[name]?.bytes, name)
            guard let twinTensor = tt[name], twinTensor.dtype == .f32, let bTensor = tb[name] else { continue }
            XCTAssertEqual(try bTensor.floats(), try twinTensor.floats().map { $0 + 1 }, name)
        }
        // Both nets of the file, or the one asked for; a safetensors-only reader would not know it.
        try mscn(["weights", "import", Self.golden("official-checkpoint.pth.tar"), path("only.tzst")], expect: 1)
        try mscn(["weights", "import", "--net", "B", Self.golden("official-checkpoint.pth.tar"), path("only-b.tzst")])
        XCTAssertEqual(try TensorFiles.readAll(path("only-b.tzst")).tensors["net/img_enc.fc.weight"]?.bytes, tb["net/img_enc.fc.weight"]?.bytes)
    }

    /// The same checkpoint saved in the format before PyTorch 1.6 (make_official_checkpoint.py
    /// --legacy), as checkpoints of torch 1.x before 1.6 are, imports to the same weights.
    func testLegacyOfficialCheckpointImportsAsItsZipTwin() throws {
        try mscn(["weights", "import", Self.golden("official-checkpoint.pth.tar"), path("a.tzst"), path("b.tzst")])
        try mscn(["weights", "import", Self.golden("official-checkpoint-legacy.pth.tar"), path("la.tzst"), path("lb.tzst")])
        for net in ["a", "b"] {
            let zip = try TensorFiles.readAll(path("\(net).tzst")).tensors, legacy = try TensorFiles.readAll(path("l\(net).tzst")).tensors
            let weights = zip.keys.filter { $0.hasPrefix("net/") || $0.hasPrefix("meta/") || $0.hasPrefix("buffers/") }
            XCTAssertGreaterThan(weights.count, 40)
            XCTAssertEqual(Set(legacy.keys), Set(zip.keys), net)
            for name in weights { XCTAssertEqual(legacy[name]?.bytes, zip[name]?.bytes, "\(net) \(name)") }
        }
    }

    func testReferenceWeightsImportBitForBitAndScoreAsTheReference() throws {
        for module in ["sgr", "saf"] {
            let ckpt = path("\(module).tzst")
            try mscn(["weights", "import", Self.golden("reference-\(module).safetensors"), ckpt])
            let stored = try TensorFiles.readAll(ckpt).tensors
            // Every parameter and buffer equals the dump's, byte for byte.
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dump(module).appendingPathComponent("manifest.json")))
            let names = ((manifest as? [String: Any])?["tensors"] as? [String: Any])?.keys.filter { $0.hasPrefix("param/") } ?? []
            XCTAssertGreaterThan(names.count, 40)
            for name in names {
                let want = try Self.dumpArray(module, name)
                let ours = String(name.dropFirst("param/".count))
                XCTAssertEqual(stored[ours]?.bytes, want.bytes, "\(module) \(ours)")
            }

            let (ours, metrics) = try evaluate(module, [ckpt])
            let reference = try Self.dumpArray(module, "out/sims").floats()
            XCTAssertEqual(ours.count, reference.count)
            XCTAssertLessThanOrEqual(Self.worstDifference(ours, reference), 1e-5, "\(module): scores of imported weights vs the reference's out/sims")
            // And the recalls the reference's own scores give.
            let expected = Self.recalls(reference, n: Int(Double(reference.count).squareRoot()))
            for (key, value) in expected {
                XCTAssertEqual((metrics[key] as? Double) ?? -1, value, accuracy: 1e-9, "\(module) \(key)")
            }
        }
    }

    /// `mscn-evaluate` of checkpoints (A, optionally B) on a parity dump's batch (one caption per
    /// image): the score matrix [images, captions] and the metrics JSON.
    func evaluate(_ module: String, _ checkpoints: [String]) throws -> ([Float], [String: Any]) {
        let images = try Self.dumpArray(module, "input/images")
        let captions = try Self.dumpArray(module, "input/captions").ints(), lengths = try Self.dumpArray(module, "input/lengths").ints()
        let width = captions.count / lengths.count
        var tokens: [Int32] = [], offsets: [Int64] = [0]
        for (j, n) in lengths.enumerated() {
            tokens += captions[(j * width)..<(j * width + n)].map { Int32($0) }
            offsets.append(Int64(tokens.count))
        }
        let corpus = path("\(module)-corpus.tzst"), features = path("\(module)-features.tzst")
        try Corpus(splits: ["test": CaptionSet(tokens: tokens, offsets: offsets, captionsPerImage: 1)], vocabularySize: 30).save(corpus)
        try TensorFiles.write(features, [StoredTensor(name: Schema.features, dtype: .f32, shape: images.shape, bytes: images.bytes)])
        let tag = UUID().uuidString
        let metrics = path("\(tag)-metrics.json"), scores = path("\(tag)-scores.tzst")
        var args = ["--ckpt-a", checkpoints[0], "--features", features, "--corpus", corpus, "--split", "test", "--out", metrics, "--scores", scores]
        if checkpoints.count > 1 { args += ["--ckpt-b", checkpoints[1]] }
        let r = try runProduct("mscn-evaluate", args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: metrics))) as? [String: Any]
        return (try TensorFileReader(path: scores).read("scores").floats(), json ?? [:])
    }

    static func worstDifference(_ a: [Float], _ b: [Float]) -> Float {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    /// `mscn weights export ... OUT.pth.tar` writes the official code's own checkpoint: the same
    /// tensors, byte for byte, as torch.save wrote for the same weights (official-checkpoint.pth.tar),
    /// the same file on every run, and it imports back to the same weights.
    func testOfficialCheckpointExportHoldsWhatTorchSaveWrote() throws {
        let a = path("oa.tzst"), b = path("ob.tzst")
        try mscn(["weights", "import", Self.golden("official-checkpoint.pth.tar"), a, b])
        let out = path("ours.pth.tar"), again = path("again.pth.tar")
        try mscn(["weights", "export", a, b, out, "--opt", "data_name=coco_precomp", "--opt", "batch_size=32", "--epoch", "3"])
        try mscn(["weights", "export", a, b, again, "--opt", "data_name=coco_precomp", "--opt", "batch_size=32", "--epoch", "3"])
        XCTAssertEqual(FileManager.default.contents(atPath: out), FileManager.default.contents(atPath: again))
        let ours = try TorchSave.read(out), torch = try TorchSave.read(Self.golden("official-checkpoint.pth.tar"))
        let theirs = Dictionary(uniqueKeysWithValues: torch.tensors.map { ($0.name, $0) })
        XCTAssertEqual(Set(ours.tensors.map(\.name)), Set(theirs.keys))
        for t in ours.tensors {
            XCTAssertEqual(t.dtype, theirs[t.name]?.dtype, t.name)
            XCTAssertEqual(t.shape, theirs[t.name]?.shape, t.name)
            XCTAssertEqual(t.bytes, theirs[t.name]?.bytes, t.name)
        }
        XCTAssertEqual(ours.values["epoch"], "3")
        // Back again: the weights of the checkpoints it was written from.
        try mscn(["weights", "import", out, path("ra.tzst"), path("rb.tzst")])
        for (original, back) in [(a, path("ra.tzst")), (b, path("rb.tzst"))] {
            let (x, y) = (try TensorFiles.readAll(original).tensors, try TensorFiles.readAll(back).tensors)
            for name in x.keys where name.hasPrefix("net/") || name.hasPrefix("meta/") {
                XCTAssertEqual(x[name]?.bytes, y[name]?.bytes, name)
            }
        }
        // Options belong to official checkpoints only; a malformed one is named.
        let r1 = try mscn(["weights", "export", a, path("w.safetensors"), "--opt", "data_name=x"], expect: 64)
        XCTAssertTrue(r1.stderr.contains("--opt, --epoch and --no-opt are for an official checkpoint"), r1.stderr)
        let r2 = try mscn(["weights", "export", a, path("w.pth.tar"), "--opt", "data_name"], expect: 64)
        XCTAssertTrue(r2.stderr.contains("--opt data_name: give KEY=VALUE"), r2.stderr)
        // Typed as the official opt.py types them; what the weights decide cannot be set otherwise.
        let r3 = try mscn(["weights", "export", a, path("w.pth.tar"), "--opt", "batch_size=3.5"], expect: 64)
        XCTAssertTrue(r3.stderr.contains("batch_size is an int in the official opt.py"), r3.stderr)
        let misfit = path("misfit.pth.tar")
        let r4 = try mscn(["weights", "export", a, b, misfit, "--opt", "embed_size=7"], expect: 1)
        XCTAssertTrue(r4.stderr.contains("the weights have embed_size"), r4.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: misfit))
        // Without opt no object but containers and tensors is pickled (torch.load's weights_only=True reads it).
        let bare = path("bare.pth.tar")
        try mscn(["weights", "export", a, b, bare, "--no-opt"])
        let archive = try XCTUnwrap(FileManager.default.contents(atPath: bare))
        XCTAssertNil(archive.range(of: Data("argparse".utf8)))
        XCTAssertNotNil(try XCTUnwrap(FileManager.default.contents(atPath: out)).range(of: Data("argparse".utf8)))
        XCTAssertEqual(try TorchSave.read(bare).tensors.map(\.name), ours.tensors.map(\.name))
    }

    /// Checkpoints of NCR and SGRAF, the codebases MSCN builds on (Golden/pytorch-weights,
    /// make_foreign_checkpoints.py: each codebase's own SGRAF class, saved as its training script
    /// saves it, with the scores its own forward gives), import without Python and score as that
    /// code scores: the backbone as stored, the score head `sim_eval_w` through the meta net.
    func testNCRAndSGRAFCheckpointsScoreAsTheirOwnCode() throws {
        let a = path("ncr-a.tzst"), b = path("ncr-b.tzst")
        let out = try mscn(["weights", "import", Self.golden("ncr-checkpoint.pth.tar"), a, b])
        XCTAssertTrue(out.stdout.contains("NCR's checkpoint layout"), out.stdout)
        let backbone = try TensorFiles.readAll(a).tensors
        XCTAssertEqual(backbone["net/img_enc.fc.weight"]?.bytes, try Self.dumpArray("sgr", "param/net/img_enc.fc.weight").bytes)
        XCTAssertEqual(backbone["net/sim_enc.SGR_module.2.sim_graph_w.bias"]?.bytes,
                       try Self.dumpArray("sgr", "param/net/sim_enc.SGR_module.2.sim_graph_w.bias").bytes)
        let wantA = try NPY.read(Self.golden("ncr-scores-a.npy")).floats(), wantB = try NPY.read(Self.golden("ncr-scores-b.npy")).floats()
        XCTAssertLessThanOrEqual(Self.worstDifference(try evaluate("sgr", [a]).0, wantA), 1e-5, "NCR net A")
        XCTAssertLessThanOrEqual(Self.worstDifference(try evaluate("sgr", [b]).0, wantB), 1e-5, "NCR net B")
        // NCR's evaluation averages its two nets' scores, as the A+B evaluation does.
        XCTAssertLessThanOrEqual(Self.worstDifference(try evaluate("sgr", [a, b]).0, zip(wantA, wantB).map { ($0 + $1) / 2 }), 1e-5, "NCR A+B")
        // Scores far from 0.5 would hide a wrong head behind the sigmoid's flat ends.
        XCTAssertGreaterThan(Set(wantA.map { ($0 * 1000).rounded() }).count, 4)

        // SGRAF: one net per file; the smallest meta net that carries the head gives the same scores.
        for hidden in ["64", "2"] {
            let saf = path("saf-\(hidden).tzst")
            try mscn(["weights", "import", "--meta-hidden", hidden, Self.golden("sgraf-saf-checkpoint.pth.tar"), saf])
            let want = try NPY.read(Self.golden("sgraf-saf-scores.npy")).floats()
            XCTAssertLessThanOrEqual(Self.worstDifference(try evaluate("saf", [saf]).0, want), 1e-5, "SGRAF SAF, meta hidden \(hidden)")
            XCTAssertEqual(try TensorFiles.readAll(saf).tensors["meta/output_layer.weight"]?.shape, [1, Int(hidden) ?? 0])
        }
        let refused = try mscn(["weights", "import", "--meta-hidden", "1", Self.golden("sgraf-saf-checkpoint.pth.tar"), path("x.tzst")], expect: 64)
        XCTAssertTrue(refused.stderr.contains("--meta-hidden must be at least 2"), refused.stderr)
    }

    /// An NCR checkpoint of the tiny experiment's sizes (its backbone a warm-up trained here, a
    /// seeded head) imports as an ordinary checkpoint: a round trains on from it, and the meta
    /// net's spare units, which start with output weight 0, are moved by the meta step.
    func testImportedNCRCheckpointTrainsOn() throws {
        let e = try TinyExperiment.shared(by: Self.self)
        try e.warmup("A", out: e.path("w-ncr.tzst"))
        try mscn(["weights", "export", e.path("w-ncr.tzst"), path("w.safetensors")])
        let parts = ["img_enc", "txt_enc", "sim_enc"]
        var ncr: [StoredTensor] = []
        for t in try Safetensors.read(path("w.safetensors")).1 where t.name.hasPrefix("net_A.") {
            let rest = t.name.dropFirst("net_A.".count)
            let i = try XCTUnwrap(parts.firstIndex { rest.hasPrefix($0 + ".") }, t.name)
            var renamed = t
            renamed.name = "model_A.\(i).\(rest.dropFirst(parts[i].count + 1))"
            ncr.append(renamed)
        }
        ncr.append(StoredTensor(name: "model_A.2.sim_eval_w.weight", shape: [1, 8], floats: (0..<8).map { Float($0) * 0.1 - 0.35 }))
        ncr.append(StoredTensor(name: "model_A.2.sim_eval_w.bias", shape: [1], floats: [0.1]))
        try Safetensors.write(path("ncr.safetensors"), ncr)
        try mscn(["weights", "import", "--meta-hidden", "8", path("ncr.safetensors"), path("ncr-a.tzst")])
        let before = try XCTUnwrap(try TensorFiles.readAll(path("ncr-a.tzst")).tensors["meta/output_layer.weight"]).floats()
        XCTAssertEqual(before, [1, -1, 0, 0, 0, 0, 0, 0])

        try TinyExperiment.run("mscn-train", ["--mode", "round", "--net", "A", "--round", "1", "--initial", path("ncr-a.tzst")]
                               + e.common + TinyExperiment.model + ["--out", path("ncr-r1.tzst")])
        let after = try XCTUnwrap(try TensorFiles.readAll(path("ncr-r1.tzst")).tensors["meta/output_layer.weight"]).floats()
        XCTAssertTrue(after.dropFirst(2).contains { $0 != 0 }, "\(after)")
    }

    /// The NCR layout's names in a safetensors file, damaged: a missing score head and a fourth
    /// state dict are refused by name.
    func testForeignLayoutsThatAreIncompleteAreRefused() throws {
        let stored = try TorchSave.read(Self.golden("ncr-checkpoint.pth.tar")).tensors
        XCTAssertTrue(stored.contains { $0.name == "model_B.2.sim_eval_w.weight" })
        let noHead = path("no-head.safetensors"), extra = path("extra.safetensors")
        try Safetensors.write(noHead, stored.filter { $0.name != "model_B.2.sim_eval_w.bias" }, metadata: [:])
        var fourth = stored
        fourth.append(StoredTensor(name: "model_A.3.weight", shape: [1], floats: [0]))
        try Safetensors.write(extra, fourth, metadata: [:])
        let r1 = try mscn(["weights", "import", noHead, path("a.tzst"), path("b.tzst")], expect: 1)
        XCTAssertTrue(r1.stderr.contains("missing the score head model_B.2.sim_eval_w.weight / model_B.2.sim_eval_w.bias"), r1.stderr)
        let r2 = try mscn(["weights", "import", extra, path("a.tzst"), path("b.tzst")], expect: 1)
        XCTAssertTrue(r2.stderr.contains("model_A.3.weight: model_A should be a list of the three state dicts"), r2.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a.tzst")))
    }

    /// R@1/5/10 in percent of an n×n score matrix with one caption per image (row = image).
    static func recalls(_ s: [Float], n: Int) -> [String: Double] {
        var i2t = [Int](), t2i = [Int]()
        for i in 0..<n { i2t.append(1 + (0..<n).filter { s[i * n + $0] > s[i * n + i] }.count) }
        for j in 0..<n { t2i.append(1 + (0..<n).filter { s[$0 * n + j] > s[j * n + j] }.count) }
        var r: [String: Double] = [:]
        for k in [1, 5, 10] {
            r["i2t_r\(k)"] = 100 * Double(i2t.filter { $0 <= k }.count) / Double(n)
            r["t2i_r\(k)"] = 100 * Double(t2i.filter { $0 <= k }.count) / Double(n)
        }
        return r
    }

    func testRoundTripIsBitIdenticalAndMatchesPythonsTensors() throws {
        let reference = Self.golden("reference-sgr.safetensors")
        try mscn(["weights", "import", reference, path("a.tzst")])
        try mscn(["weights", "export", path("a.tzst"), path("a.safetensors")])
        try mscn(["weights", "import", path("a.safetensors"), path("a2.tzst")])
        try mscn(["weights", "export", path("a2.tzst"), path("a2.safetensors")])
        XCTAssertEqual(try Data(contentsOf: work.appendingPathComponent("a.safetensors")),
                       try Data(contentsOf: work.appendingPathComponent("a2.safetensors")), "export → import → export is bit-identical")
        let first = try TensorFiles.readAll(path("a.tzst")), second = try TensorFiles.readAll(path("a2.tzst"))
        XCTAssertEqual(first.tensors, second.tensors, "import → export → import gives the same checkpoint tensors")
        // Our export holds exactly Python's tensors (names, dtypes, shapes, bytes).
        let python = try Safetensors.read(reference).tensors, ours = try Safetensors.read(path("a.safetensors"))
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: ours.tensors.map { ($0.name, $0) }),
                       Dictionary(uniqueKeysWithValues: python.map { ($0.name, $0) }))
        XCTAssertEqual(ours.metadata["format"], "mscn-weights-1")
        XCTAssertEqual(ours.metadata["nets"], "A")
        XCTAssertTrue(ours.metadata["reference_opt.A"]?.contains("\"module_name\":\"SGR\"") == true, "\(ours.metadata)")

        // Two nets: A and B in one file, back to two checkpoints (or one with --net).
        try mscn(["weights", "import", Self.golden("reference-saf.safetensors"), path("b.tzst")])
        try mscn(["weights", "export", path("a.tzst"), path("b.tzst"), path("ab.safetensors")])
        let both = try Safetensors.read(path("ab.safetensors"))
        XCTAssertEqual(both.metadata["nets"], "A,B")
        XCTAssertTrue(both.tensors.contains { $0.name == "meta_net_B.output_layer.bias" })
        XCTAssertTrue(both.tensors.contains { $0.name == "net_B.sim_enc.SAF_module.bn.running_var" })
        let one = try mscn(["weights", "import", path("ab.safetensors"), path("only.tzst")], expect: 1)
        XCTAssertTrue(one.stderr.contains("ab.safetensors") && one.stderr.contains("holds nets A,B"), one.stderr)
        try mscn(["weights", "import", path("ab.safetensors"), path("a3.tzst"), path("b3.tzst")])
        try mscn(["weights", "import", path("ab.safetensors"), path("b4.tzst"), "--net", "B"])
        XCTAssertEqual(try TensorFiles.readAll(path("b3.tzst")).tensors, try TensorFiles.readAll(path("b.tzst")).tensors)
        XCTAssertEqual(try TensorFiles.readAll(path("b4.tzst")).tensors, try TensorFiles.readAll(path("b.tzst")).tensors)
        XCTAssertEqual(try TensorFiles.readAll(path("a3.tzst")).tensors, first.tensors)
    }

    func testFilesThatAreNotTheReferenceStateDictAreRefused() throws {
        let (_, tensors) = try Safetensors.read(Self.golden("reference-sgr.safetensors"))
        func refused(_ edit: ([StoredTensor]) throws -> [StoredTensor], metadata: [String: String] = [:], _ words: String..., line: UInt = #line) throws {
            let file = path("edited-\(UUID().uuidString).safetensors")
            try Safetensors.write(file, try edit(tensors), metadata: metadata)
            let r = try mscn(["weights", "import", file, path("out.tzst")], expect: 1, line: line)
            XCTAssertTrue(r.stderr.contains(file), "names the file: \(r.stderr)", line: line)
            for w in words { XCTAssertTrue(r.stderr.contains(w), "'\(w)' in: \(r.stderr)", line: line) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.tzst")), line: line)
        }
        let gru = "net_A.txt_enc.cap_rnn.weight_hh_l0"
        try refused({ $0.filter { $0.name != gru } }, "missing tensor \(gru)")
        try refused({ $0 + [StoredTensor(name: "net_A.extra.weight", shape: [1], floats: [0])] }, "unexpected tensors", "net_A.extra.weight")
        try refused({ try $0.map { t in t.name == gru ? StoredTensor(name: t.name, shape: t.shape, doubles: try t.floats().map(Double.init)) : t } },
                    "\(gru) is f64, the reference stores f32")
        try refused({ $0.map { t in t.name == gru ? StoredTensor(name: t.name, shape: [48, 8], floats: [Float](repeating: 0, count: 384)) : t } },
                    "\(gru) has shape [48, 8], expected [48, 16]")
        try refused({ $0.filter { !$0.name.hasPrefix("net_A.sim_enc.SGR_module.") } }, "neither sim_enc.SGR_module")
        try refused({ $0.map { StoredTensor(name: $0.name.replacingOccurrences(of: "net_A.", with: "model."), dtype: $0.dtype, shape: $0.shape, bytes: $0.bytes) } },
                    "no net_<X>.* tensors")
        try refused({ $0 }, metadata: ["model_config.A": #"{"imageDim": 64}"#], "model_config.A")
        try refused({ $0 }, metadata: ["nets": "A,C"], "missing tensor net_C.img_enc.fc.weight")
    }
}
