import Foundation
import TensorFile
import TestSupport
import XCTest

/// Files written by `torch.save` (Tests/StageTests/Golden/pytorch-weights/make_torch_save_cases.py,
/// make_official_checkpoint.py), in the ZIP format and the one before PyTorch 1.6, read without Python.
final class TorchSaveTests: XCTestCase {
    static func golden(_ name: String) -> String {
        TestPaths.packageRoot.appendingPathComponent("Tests/StageTests/Golden/pytorch-weights/" + name).path
    }

    func testViewsScalarsValuesAndNestedStateDicts() throws {
        let c = try TorchSave.read(Self.golden("torch-save-cases.pth"))
        let t = Dictionary(uniqueKeysWithValues: c.tensors.map { ($0.name, $0) })
        XCTAssertEqual(Set(t.keys), ["contiguous", "transposed", "sliced", "count", "ids", "sd.w", "sd.b"])
        let x = (0..<12).map(Float.init)  // arange(12).reshape(3, 4)
        XCTAssertEqual(t["contiguous"]?.shape, [3, 4])
        XCTAssertEqual(try t["contiguous"]?.floats(), x)
        XCTAssertEqual(t["transposed"]?.shape, [4, 3])
        XCTAssertEqual(try t["transposed"]?.floats(), (0..<4).flatMap { j in (0..<3).map { i in x[i * 4 + j] } })
        XCTAssertEqual(t["sliced"]?.shape, [2, 2])
        XCTAssertEqual(try t["sliced"]?.floats(), [6, 7, 10, 11])
        XCTAssertEqual(t["count"]?.shape, [])
        XCTAssertEqual(try t["count"]?.int64s(), [7])
        XCTAssertEqual(try t["ids"]?.int32s(), [1, -2, 3])
        XCTAssertEqual(try t["sd.w"]?.floats(), [0, 1, 2, 3])
        XCTAssertEqual(try t["sd.b"]?.doubles(), [0.5])
        XCTAssertEqual(c.values, ["epoch": "3", "best_rsum": "412.5", "name": "cases"])
        XCTAssertTrue(TorchSave.isTorchSave(Self.golden("torch-save-cases.pth")))
        XCTAssertFalse(TorchSave.isTorchSave(Self.golden("reference-sgr.safetensors")))
    }

    func testRefusalsSayWhatIsWrong() throws {
        func message(_ path: String) -> String {
            do { _ = try TorchSave.read(path); return "read without an error" } catch { return "\(error)" }
        }
        let half = message(Self.golden("torch-save-half.pth"))
        XCTAssertTrue(half.contains("h is stored as torch.HalfStorage"), half)
        let dir = TestPaths.temporaryDirectory("torch-save")
        XCTAssertTrue(message(Self.golden("torch-save-half-legacy.pth")).contains("h is stored as torch.HalfStorage"))
        // A pickle that does not start with the legacy format's magic number, and a tar archive
        // (PyTorch's first format).
        let pickle = dir.appendingPathComponent("pickle.pth").path
        try Data([0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 20)).write(to: URL(fileURLWithPath: pickle))
        XCTAssertTrue(message(pickle).contains("not a torch.save file"), message(pickle))
        XCTAssertFalse(TorchSave.isTorchSave(pickle))
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        let tarPath = dir.appendingPathComponent("tar.pth").path
        try Data(tar).write(to: URL(fileURLWithPath: tarPath))
        XCTAssertTrue(message(tarPath).contains("first format (a tar archive"), message(tarPath))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.golden("official-checkpoint.pth.tar")))
        for cut in [10, bytes.count / 2, bytes.count - 10] {
            let p = dir.appendingPathComponent("cut\(cut).pth").path
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: p))
            let m = message(p)
            XCTAssertTrue(m.hasPrefix(p + ": ") && m.contains("torch.save"), m)
        }
    }

    /// Damage anywhere in a file, ZIP or legacy, gives an error or a result, never a crash or a
    /// hang: every byte of the pickles, the ZIP records and the legacy storages' counts, one at a
    /// time, set to values that change opcodes, lengths, counts and offsets.
    func testDamagedArchivesNeverCrash() throws {
        for fixture in ["torch-save-cases.pth", "torch-save-cases-legacy.pth"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.golden(fixture))))
            let dir = TestPaths.temporaryDirectory("torch-save-damage")
            let p = dir.appendingPathComponent("damaged.pth").path
            var errors = 0, reads = 0
            for i in stride(from: 0, to: original.count, by: 1) {
                for v: UInt8 in [0x00, 0xFF, original[i] ^ 0x01] where v != original[i] {
                    var b = original
                    b[i] = v
                    try Data(b).write(to: URL(fileURLWithPath: p))
                    do { _ = try TorchSave.read(p); reads += 1 } catch { errors += 1 }
                }
            }
            XCTAssertGreaterThan(errors, 0, fixture)
            XCTAssertGreaterThan(reads, 0, "\(fixture): damage to tensor data bytes still reads")
        }
    }

    /// The legacy format has no directory to check against the file's length: a cut at any byte
    /// (inside a pickle, between them, inside a storage's count or data) must still be an error
    /// that names the file.
    func testLegacyFilesCutAtAnyByteAreErrors() throws {
        let dir = TestPaths.temporaryDirectory("torch-save-cut")
        let p = dir.appendingPathComponent("cut.pth").path
        for fixture in ["torch-save-cases-legacy.pth", "torch-save-half-legacy.pth", "official-checkpoint-legacy.pth.tar"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.golden(fixture))))
            // The checkpoint's pickles outgrow the reader's first read of 16 KiB: cuts around it,
            // where they end (24,148) and through the storages.
            let official = Array(stride(from: 0, to: original.count, by: 997)) + Array(16_380...16_390) + Array(24_140...24_160) + [original.count - 1]
            for cut in fixture.hasPrefix("official") ? official : Array(0..<original.count) {
                try Data(original.prefix(cut)).write(to: URL(fileURLWithPath: p))
                do {
                    _ = try TorchSave.read(p)
                    XCTFail("\(fixture) cut to \(cut) bytes read without an error")
                } catch {
                    XCTAssertTrue("\(error)".hasPrefix(p + ": "), "\(error)")
                }
            }
        }
    }

    /// Files in the format before PyTorch 1.6 (`_use_new_zipfile_serialization=False`) read as
    /// their ZIP twins: the same tensors in the same order, byte for byte, and the same values.
    func testLegacyFilesReadAsTheirZipTwins() throws {
        for (zipName, legacyName) in [("torch-save-cases.pth", "torch-save-cases-legacy.pth"),
                                      ("official-checkpoint.pth.tar", "official-checkpoint-legacy.pth.tar")] {
            let zip = try TorchSave.read(Self.golden(zipName)), legacy = try TorchSave.read(Self.golden(legacyName))
            XCTAssertGreaterThan(zip.tensors.count, 6)
            XCTAssertEqual(legacy.tensors.map(\.name), zip.tensors.map(\.name), legacyName)
            XCTAssertEqual(legacy.tensors, zip.tensors, legacyName)
            XCTAssertEqual(legacy.values, zip.values, legacyName)
            XCTAssertTrue(TorchSave.isTorchSave(Self.golden(legacyName)))
        }
    }

    /// What the writer's sys_info says and what torch never writes into a legacy file (checked on
    /// files built here: a storage listed twice, not listed, not used, its count not the
    /// object's, longer than the file) are errors that say so.
    func testLegacyRefusalsSayWhatIsWrong() throws {
        let dir = TestPaths.temporaryDirectory("torch-save-legacy")
        func message(_ bytes: [UInt8], _ name: String) throws -> String {
            let p = dir.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            do { _ = try TorchSave.read(p); return "read without an error" } catch { return "\(error)" }
        }
        // The real file's sys_info with little_endian False (NEWTRUE -> NEWFALSE after the key).
        var bigEndian = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.golden("torch-save-cases-legacy.pth"))))
        let key = Array("little_endian".utf8)
        let at = try XCTUnwrap((0...(bigEndian.count - key.count)).first { bigEndian[$0..<($0 + key.count)].elementsEqual(key) })
        let flag = try XCTUnwrap(bigEndian[(at + key.count)...].firstIndex(of: 0x88))
        XCTAssertLessThan(flag - at - key.count, 3, "BINPUT at most between the key and its value")
        bigEndian[flag] = 0x89
        let big = try message(bigEndian, "big.pth")
        XCTAssertTrue(big.contains("big-endian"), big)

        let good = LegacyFile()
        XCTAssertEqual(try TorchSave.read(try write(good.bytes, dir, "good.pth")).tensors,
                       [StoredTensor(name: "t", shape: [2], floats: [1.5, -2])])
        var python2 = good
        python2.python2 = true
        XCTAssertEqual(try TorchSave.read(try write(python2.bytes, dir, "python2.pth")).tensors.map(\.name), ["sd.t"])
        var cases: [(String, LegacyFile)] = []
        var f = good; f.littleEndian = false; cases.append(("big-endian", f))
        f = good; f.version = 1000; cases.append(("protocol version 1000", f))
        f = good; f.view = true; cases.append(("storage k is saved as a view", f))
        f = good; f.listed = ["k", "k"]; cases.append(("lists storage k twice", f))
        f = good; f.listed = []; cases.append(("uses storage k, which is not among the file's storages", f))
        f = good; f.listed = ["k", "x"]; cases.append(("lists storage x, which the saved object does not use", f))
        f = good; f.header = 3; cases.append(("holds 3 elements, but the saved object gives it 2", f))
        f = good; f.count = 1 << 40; f.header = 1 << 40; cases.append(("runs past the end of the file", f))
        f = good; f.count = Int.max; f.header = UInt64(Int.max); cases.append(("runs past the end of the file", f))
        f = good; f.storageType = "FancyStorage"; cases.append(("torch.FancyStorage, whose element size is not known", f))
        f = good; f.trailing = [0, 0, 0]; cases.append(("3 bytes follow the last storage", f))
        for (i, (expected, file)) in cases.enumerated() {
            let m = try message(file.bytes, "case\(i).pth")
            XCTAssertTrue(m.contains(expected), "expected '\(expected)': \(m)")
        }
    }

    private func write(_ bytes: [UInt8], _ dir: URL, _ name: String) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
}

/// A legacy `torch.save` file of one float tensor `t` on storage `k`, built pickle by pickle
/// (protocol 2, as `_legacy_save` writes it) so that tests can break what torch never does.
private struct LegacyFile {
    var version = 1001
    var littleEndian = true
    var storageType = "FloatStorage"
    /// The storage's element count in the object's pickle, and in front of its data.
    var count = 2
    var header: UInt64 = 2
    var view = false
    var listed = ["k"]
    var trailing: [UInt8] = []
    /// The tensor inside a state dict `sd` pickled as Python 2 pickles an OrderedDict:
    /// `OrderedDict([["t", tensor]])`.
    var python2 = false

    var bytes: [UInt8] {
        func str(_ s: String) -> [UInt8] { [0x58] + le(UInt64(s.utf8.count), 4) + Array(s.utf8) }
        func int(_ i: Int) -> [UInt8] { [0x8A, 0x08] + le(UInt64(bitPattern: Int64(i)), 8) } // LONG1
        func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let (proto, stop, mark, tuple): (UInt8, UInt8, UInt8, UInt8) = (0x80, 0x2E, 0x28, 0x74)
        let magic: [UInt8] = [proto, 2, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, stop]
        let versionPickle: [UInt8] = [proto, 2] + int(version) + [stop]
        let sysInfo: [UInt8] = [proto, 2, 0x7D, mark] + str("little_endian") + [littleEndian ? 0x88 : 0x89, 0x75, stop]
        let viewMetadata: [UInt8] = view ? [mark] + str("v") + int(0) + int(1) + [tuple] : [0x4E]
        let persistentID: [UInt8] = [mark] + str("storage") + global("torch", storageType) + str("k") + str("cpu") + int(count) + viewMetadata + [tuple, 0x51]
        let tensor: [UInt8] = global("torch._utils", "_rebuild_tensor_v2") + [mark] + persistentID + int(0) + [mark] + int(2) + [tuple, mark] + int(1)
            + [tuple, 0x89] + global("collections", "OrderedDict") + [0x29, 0x52, tuple, 0x52]
        let stateDict: [UInt8] = global("collections", "OrderedDict") + [0x5D, mark, 0x5D, mark] + str("t") + tensor + [0x65, 0x65, 0x85, 0x52]
        let object: [UInt8] = [proto, 2, 0x7D, mark] + (python2 ? str("sd") + stateDict : str("t") + tensor) + [0x75, stop]
        let list: [UInt8] = [proto, 2, 0x5D, mark] + listed.flatMap(str) + [0x65, stop]
        let data: [UInt8] = le(header, 8) + le(UInt64(Float(1.5).bitPattern), 4) + le(UInt64(Float(-2).bitPattern), 4)
        return magic + versionPickle + sysInfo + object + list + data + trailing
    }
}
