import Foundation
import TestSupport
import XCTest
@testable import TensorFile

/// Version 1 files (the first layout) convert to the current one, tensor for tensor.
final class UpgradeTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("tensorfile-upgrade") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    struct Frame1: Codable { var offset: Int; var compressed: Int; var raw: Int; var rows: Int }
    struct Tensor1: Codable { var name: String; var dtype: DType; var shape: [Int]; var frames: [Frame1] }
    struct Footer1: Codable { var version: Int; var metadata: [String: String]; var tensors: [Tensor1] }

    /// A version 1 file as the first writer laid it out, `rowsPerFrame` rows to a frame.
    static func v1(_ tensors: [StoredTensor], metadata: [String: String], rowsPerFrame: Int = 2) throws -> [UInt8] {
        var bytes = Array("MSCNTZ01".utf8)
        var records: [Tensor1] = []
        for t in tensors {
            var frames: [Frame1] = []
            let rowBytes = t.shape.dropFirst().reduce(t.dtype.size, *)
            let step = max(rowsPerFrame * rowBytes, 1)
            for start in stride(from: 0, to: t.bytes.count, by: step) {
                let raw = Array(t.bytes[start..<min(start + step, t.bytes.count)])
                let packed = raw.withUnsafeBytes { Zstd.compress($0, level: 3) }
                frames.append(Frame1(offset: bytes.count, compressed: packed.count, raw: raw.count,
                                     rows: t.shape.isEmpty ? 1 : raw.count / max(rowBytes, 1)))
                bytes += packed
            }
            records.append(Tensor1(name: t.name, dtype: t.dtype, shape: t.shape, frames: frames))
        }
        let footer = [UInt8](try JSONEncoder().encode(Footer1(version: 1, metadata: metadata, tensors: records)))
        return bytes + footer + LittleEndian.bytes(UInt64(footer.count)) + Array("MSCNTEND".utf8)
    }

    func testVersion1FilesUpgradeInPlace() throws {
        let tensors = [Fixtures.tensor(.f32, [7, 3], name: "a"), Fixtures.tensor(.i64, [], name: "s"),
                       Fixtures.tensor(.u8, [0, 4], name: "e")]
        let p = path("old.tzst")
        try Fixtures.save(try Self.v1(tensors, metadata: ["stage": "x"]), p)
        let refused = Fixtures.expectRejected(p, "version 1 read directly")
        XCTAssertTrue(refused?.message.contains("mscn tensor upgrade") ?? false, refused?.message ?? "")
        XCTAssertTrue(try TensorFiles.upgrade(p))
        let (meta, back) = try TensorFiles.readAll(p)
        XCTAssertEqual(meta, ["stage": "x"])
        for t in tensors { XCTAssertEqual(back[t.name], t) }
        XCTAssertFalse(try TensorFiles.upgrade(p), "second upgrade is a no-op")
    }

    func testDamagedVersion1FilesAreRefused() throws {
        let good = try Self.v1([Fixtures.tensor(.f64, [6, 2], name: "a")], metadata: [:])
        var flipped = good
        flipped[20] ^= 0x40
        let cases: [(String, [UInt8])] = [
            ("truncated", Array(good.dropLast(3))),
            ("frame damaged", flipped),
            ("lying footer length", Array(good.dropLast(16)) + LittleEndian.bytes(UInt64(1 << 40)) + Array("MSCNTEND".utf8)),
        ]
        for (what, bytes) in cases {
            let p = path("bad.tzst")
            try Fixtures.save(bytes, p)
            XCTAssertThrowsError(try TensorFiles.upgrade(p), what) { XCTAssertEqual(($0 as? TensorFileError)?.path, p, what) }
            XCTAssertEqual(try Fixtures.bytes(p), bytes, "\(what): file left as it was")
        }
    }

    func testUpgradeCommand() throws {
        let p = path("cli.tzst")
        try Fixtures.save(try Self.v1([Fixtures.tensor(.i32, [5], name: "v")], metadata: [:]), p)
        var r = try runProduct("mscn", ["tensor", "upgrade", p])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(p): upgraded\n")
        r = try runProduct("mscn", ["tensor", "upgrade", p, path("missing.tzst")])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "\(p): already current\n")
        XCTAssertTrue(r.stderr.contains(path("missing.tzst")), r.stderr)
    }
}
