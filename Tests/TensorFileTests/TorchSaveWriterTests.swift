import Foundation
@testable import TensorFile
import TestSupport
import XCTest

/// `TorchSaveWriter`: files in PyTorch's ZIP format that our reader (and, by hand, `torch.load`:
/// README "Weights to and from PyTorch") reads back as written.
final class TorchSaveWriterTests: XCTestCase {
    func testChecksumsAgreeWithTheirStandards() {
        // The check values of the CRC catalogue for "123456789".
        XCTAssertEqual(CRC32.ieee.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testStateDictsValuesAndOptionsReadBackAsWritten() throws {
        let path = TestPaths.temporaryDirectory("torch-write").appendingPathComponent("ckpt.pth.tar").path
        let w = StoredTensor(name: "fc.weight", shape: [3, 4], floats: (0..<12).map { Float($0) * 0.5 - 1 })
        let b = StoredTensor(name: "fc.bias", shape: [3], floats: [1e-30, -0, .greatestFiniteMagnitude])
        let n = StoredTensor(name: "bn.num_batches_tracked", shape: [], int64s: [123_456_789_012])
        let empty = StoredTensor(name: "none", shape: [0, 5], floats: [])
        try TorchSaveWriter.write(path, [
            ("epoch", .int(7)), ("net_A", .stateDict([w, b, n, empty])), ("best_rsum", .float(412.5)),
            ("negative", .int(-3)), ("large", .int(1 << 40)), ("name", .string("ünïcode")), ("flag", .bool(true)),
            ("opt", .namespace([("module_name", .string("SGR")), ("margin", .float(0.2)), ("bi_gru", .bool(true))])),
        ])
        let c = try TorchSave.read(path)
        XCTAssertEqual(c.tensors.map(\.name), ["net_A.fc.weight", "net_A.fc.bias", "net_A.bn.num_batches_tracked", "net_A.none"])
        for (read, written) in zip(c.tensors, [w, b, n, empty]) {
            XCTAssertEqual(read.dtype, written.dtype, written.name)
            XCTAssertEqual(read.shape, written.shape, written.name)
            XCTAssertEqual(read.bytes, written.bytes, written.name)
        }
        XCTAssertEqual(c.values, ["epoch": "7", "best_rsum": "412.5", "negative": "-3", "large": String(1 << 40),
                                  "name": "ünïcode", "flag": "true"])

        // Every member stored, its CRC right and its data on a 64-byte boundary, as PyTorch writes them.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        var at = 0, members: [String] = []
        while u32(at) == 0x0403_4B50 {
            let size = u32(at + 18), nameLength = u16(at + 26), extraLength = u16(at + 28)
            let data = at + 30 + nameLength + extraLength
            members.append(String(decoding: bytes[(at + 30)..<(at + 30 + nameLength)], as: UTF8.self))
            XCTAssertEqual(u16(at + 8), 0, "stored")
            XCTAssertEqual(data % 64, 0, members.last ?? "")
            XCTAssertEqual(u32(at + 14), Int(CRC32.ieee.checksum(Array(bytes[data..<(data + size)]))), members.last ?? "")
            at = data + size
        }
        XCTAssertEqual(members, ["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2",
                                 "archive/data/3", "archive/version"])
    }

    func testOtherDtypesAreRefusedByName() throws {
        let path = TestPaths.temporaryDirectory("torch-write-bad").appendingPathComponent("bad.pth").path
        XCTAssertThrowsError(try TorchSaveWriter.write(path, [("sd", .stateDict([StoredTensor(name: "ids", shape: [2], int32s: [1, 2])]))])) { e in
            XCTAssertTrue("\(e)".contains("ids is i32; only float32 and int64 tensors are written"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing is left behind")
    }
}
