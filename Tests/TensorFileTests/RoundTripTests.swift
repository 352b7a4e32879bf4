import Foundation
import TestSupport
import XCTest
@testable import TensorFile

final class RoundTripTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("tensorfile") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let edgeShapes: [[Int]] = [[], [0], [1], [5], [3, 0], [0, 4], [7, 3], [2, 3, 4, 5], [1, 1, 1]]

    func testEveryDTypeAndEdgeShapeRoundTrips() throws {
        var tensors: [StoredTensor] = []
        for (i, d) in DType.allCases.enumerated() {
            for (j, shape) in Self.edgeShapes.enumerated() {
                tensors.append(Fixtures.tensor(d, shape, name: "\(d.rawValue)/\(shape)", seed: UInt64(i * 100 + j)))
            }
        }
        let p = path("all.mt")
        try Fixtures.write(p, tensors, frameBytes: 16, metadata: ["stage": "test", "digest": "abc/def"])
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(r.metadata, ["stage": "test", "digest": "abc/def"])
        XCTAssertEqual(r.tensors.map(\.name), tensors.map(\.name), "file order is write order")
        for t in tensors {
            XCTAssertEqual(try r.read(t.name), t, t.name)
            let info = try r.info(t.name)
            XCTAssertEqual(info.byteCount, t.bytes.count)
            XCTAssertEqual(info.frameCount, (t.bytes.count + 15) / 16, t.name)
            XCTAssertEqual(info.shape, t.shape)
        }
        try r.verify()
        let all = try TensorFiles.readAll(p)
        XCTAssertEqual(all.tensors.count, tensors.count)
        XCTAssertEqual(all.tensors["f64/[2, 3, 4, 5]"], tensors.first { $0.name == "f64/[2, 3, 4, 5]" })
    }

    func testTypedConstructorsRoundTripThroughDefaultWriter() throws {
        let p = path("typed.mt")
        try TensorFiles.write(p, [
            StoredTensor(name: "f", shape: [2, 2], floats: [1, -2.5, .infinity, 0]),
            StoredTensor(name: "d", shape: [], doubles: [Double.pi]),
            StoredTensor(name: "i", shape: [3], int32s: [Int32.min, 0, Int32.max]),
            StoredTensor(name: "l", shape: [2], int64s: [Int64.min, Int64.max]),
            StoredTensor(name: "u", shape: [0], uint8s: []),
        ])
        let (_, t) = try TensorFiles.readAll(p)
        XCTAssertEqual(try t["f"]?.floats(), [1, -2.5, .infinity, 0])
        XCTAssertEqual(try t["d"]?.doubles(), [Double.pi])
        XCTAssertEqual(try t["i"]?.int32s(), [Int32.min, 0, Int32.max])
        XCTAssertEqual(try t["l"]?.int64s(), [Int64.min, Int64.max])
        XCTAssertEqual(try t["u"]?.uint8s(), [])
        XCTAssertEqual(t["d"]?.shape, [])
    }

    func testEveryRowRangeAcrossFrameBoundaries() throws {
        // 12-byte rows in 20-byte frames: frames straddle rows, so every range crosses
        // boundaries in a different place.
        let t = Fixtures.tensor(.f32, [50, 3], name: "x")
        let p = path("rows.mt")
        try Fixtures.write(p, [t], frameBytes: 20)
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(try r.info("x").frameCount, 30)
        for lo in 0...50 {
            for hi in lo...50 {
                let got = try r.readRows("x", lo..<hi)
                XCTAssertEqual(got.shape, [hi - lo, 3])
                XCTAssertEqual(got.bytes, Array(t.bytes[(lo * 12)..<(hi * 12)]), "rows \(lo)..<\(hi)")
            }
        }
        var buffer = [UInt8](repeating: 0, count: 7 * 12)
        try buffer.withUnsafeMutableBytes { try r.readRows("x", 20..<27, into: $0) }
        XCTAssertEqual(buffer, Array(t.bytes[240..<324]))
        XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try r.readRows("x", 20..<26, into: $0) })
    }

    func testManyFramesInflateInParallel() throws {
        let t = Fixtures.tensor(.i64, [4096, 32], name: "big", seed: 7)  // 1 MiB in 256 frames
        let p = path("many.mt")
        try Fixtures.write(p, [t], frameBytes: 4096)
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(try r.info("big").frameCount, 256)
        XCTAssertEqual(try r.read("big"), t)
        XCTAssertEqual(try r.readRows("big", 1000..<3000).bytes, Array(t.bytes[(1000 * 256)..<(3000 * 256)]))
    }

    func testAnyAppendChunkingGivesTheSameBytes() throws {
        let t = Fixtures.tensor(.f32, [100, 5], seed: 3)  // 2000 bytes
        let whole = path("whole.mt")
        try Fixtures.write(whole, [t], frameBytes: 64)
        let reference = try Fixtures.bytes(whole)
        for chunk in [1, 7, 64, 65, 300, 1999] {
            let p = path("chunk\(chunk).mt")
            let w = try TensorFileWriter(path: p, metadata: [:], compressionLevel: 3, frameBytes: 64)
            try w.beginTensor(name: t.name, dtype: t.dtype, shape: t.shape)
            try t.bytes.withUnsafeBytes { raw in
                for start in stride(from: 0, to: raw.count, by: chunk) {
                    try w.append(UnsafeRawBufferPointer(rebasing: raw[start..<min(start + chunk, raw.count)]))
                }
            }
            try w.endTensor()
            try w.finish()
            XCTAssertEqual(try Fixtures.bytes(p), reference, "appends of \(chunk) bytes")
        }
    }

    func testSameInputGivesBitIdenticalFiles() throws {
        let tensors = [Fixtures.tensor(.f64, [40, 8], name: "a"), Fixtures.tensor(.u8, [9], name: "b")]
        let meta = ["z": "1", "a": "2", "m": "3"]
        try TensorFiles.write(path("1.mt"), tensors, metadata: meta)
        try TensorFiles.write(path("2.mt"), tensors, metadata: meta)
        XCTAssertEqual(try Fixtures.bytes(path("1.mt")), try Fixtures.bytes(path("2.mt")))
    }

    func testRowRangeRules() throws {
        let p = path("rank0.mt")
        try TensorFiles.write(p, [Fixtures.tensor(.f64, [], name: "s"), Fixtures.tensor(.i32, [4, 2], name: "m")])
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(try r.readRows("s", 0..<1).shape, [])
        XCTAssertThrowsError(try r.readRows("s", 0..<0))
        XCTAssertEqual(try r.readRows("m", 4..<4).shape, [0, 2])
        for bad in [-1..<2, 3..<5] {
            XCTAssertThrowsError(try r.readRows("m", bad)) { XCTAssertEqual(($0 as? TensorFileError)?.path, p) }
        }
        XCTAssertThrowsError(try r.read("missing")) { XCTAssertEqual(($0 as? TensorFileError)?.path, p) }
        XCTAssertFalse(r.contains("missing"))
        XCTAssertTrue(r.contains("m"))
    }

    func testWriterMisuseIsAnErrorAndLeavesNothingBehind() throws {
        let p = path("misuse.mt")
        let t = Fixtures.tensor(.f32, [4])
        do {
            let w = try TensorFileWriter(path: p)
            try w.write(t)
            XCTAssertThrowsError(try w.write(t), "duplicate name")
            XCTAssertThrowsError(try t.bytes.withUnsafeBytes { try w.append($0) }, "append without beginTensor")
            XCTAssertThrowsError(try w.beginTensor(name: "neg", dtype: .f32, shape: [2, -1]))
            XCTAssertThrowsError(try w.beginTensor(name: "huge", dtype: .f64, shape: [1 << 31, 1 << 31, 4]))
            try w.beginTensor(name: "short", dtype: .u8, shape: [3])
            XCTAssertThrowsError(try w.beginTensor(name: "other", dtype: .u8, shape: [1]), "one open tensor at a time")
            XCTAssertThrowsError(try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try w.append($0) }, "too many bytes")
            try [UInt8](repeating: 1, count: 2).withUnsafeBytes { try w.append($0) }
            XCTAssertThrowsError(try w.endTensor(), "too few bytes")
            XCTAssertThrowsError(try w.finish(), "writer is unusable after a half-written tensor")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: p))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "temporary removed")
        XCTAssertThrowsError(try TensorFileWriter(path: p, metadata: [:], compressionLevel: 0, frameBytes: 16))
        XCTAssertThrowsError(try TensorFileWriter(path: p, metadata: [:], compressionLevel: 3, frameBytes: 0))
        XCTAssertThrowsError(try TensorFileWriter(path: path("no/such/dir/x.mt"))) {
            XCTAssertEqual(($0 as? TensorFileError)?.path, self.path("no/such/dir/x.mt"))
        }
    }

    func testUnfinishedWriterKeepsTheOldFile() throws {
        let p = path("keep.mt")
        let old = Fixtures.tensor(.u8, [10], name: "old")
        try TensorFiles.write(p, [old])
        let before = try Fixtures.bytes(p)
        do {
            let w = try TensorFileWriter(path: p)
            try w.write(Fixtures.tensor(.u8, [10], name: "new"))
            w.setMetadata("k", "v")
        }
        XCTAssertEqual(try Fixtures.bytes(p), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["keep.mt"])
        let w = try TensorFileWriter(path: p)
        w.setMetadata("k", "v")
        try w.write(Fixtures.tensor(.u8, [10], name: "new"))
        try w.finish()
        XCTAssertThrowsError(try w.finish(), "finish twice")
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(r.tensors.map(\.name), ["new"])
        XCTAssertEqual(r.metadata, ["k": "v"])
    }
}
