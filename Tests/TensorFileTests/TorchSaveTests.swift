import Foundation
import TensorFile
import TestSupport
import XCTest

/// Files written by `torch.save` (Tests/StageTests/Golden/pytorch-weights/make_torch_save_cases.py),
/// read without Python.
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
        let legacy = dir.appendingPathComponent("legacy.pth").path
        try Data([0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 20)).write(to: URL(fileURLWithPath: legacy))
        XCTAssertTrue(message(legacy).contains("before PyTorch 1.6"), message(legacy))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.golden("official-checkpoint.pth.tar")))
        for cut in [10, bytes.count / 2, bytes.count - 10] {
            let p = dir.appendingPathComponent("cut\(cut).pth").path
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: p))
            let m = message(p)
            XCTAssertTrue(m.hasPrefix(p + ": ") && m.contains("torch.save"), m)
        }
    }

    /// Damage anywhere in the archive gives an error or a result, never a crash or a hang: every
    /// byte of the pickle and of the ZIP records, one at a time, set to values that change opcodes,
    /// lengths and offsets.
    func testDamagedArchivesNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.golden("torch-save-cases.pth"))))
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
        XCTAssertGreaterThan(errors, 0)
        XCTAssertGreaterThan(reads, 0, "damage to tensor data bytes still reads")
    }
}
