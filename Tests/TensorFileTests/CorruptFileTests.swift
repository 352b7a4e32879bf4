import Foundation
import TestSupport
import XCTest
@testable import TensorFile

/// Truncated, damaged and hostile files: always a `TensorFileError` naming the file.
final class CorruptFileTests: XCTestCase {
    var dir: URL!
    var good: String!
    var goodBytes: [UInt8] = []
    let tensors = [Fixtures.tensor(.f32, [12, 3], name: "a", seed: 5), Fixtures.tensor(.i64, [5], name: "b", seed: 6)]

    override func setUpWithError() throws {
        dir = TestPaths.temporaryDirectory("tensorfile-corrupt")
        good = path("good.mt")
        try Fixtures.write(good, tensors, frameBytes: 40, metadata: ["stage": "test"])
        goodBytes = try Fixtures.bytes(good)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Saves `bytes` as a new file and checks it is rejected.
    @discardableResult
    func rejects(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = path("bad.mt")
        try Fixtures.save(bytes, p)
        return Fixtures.expectRejected(p, what, file: file, line: line)?.message ?? ""
    }

    func testTheFixtureIsGood() throws {
        let r = try TensorFileReader(path: good)
        try r.verify()
        XCTAssertEqual(try r.read("a"), tensors[0])
        XCTAssertEqual(try r.info("a").frameCount, 4)
        XCTAssertEqual(try r.info("b").frameCount, 1)
    }

    func testTruncationAtEveryFrameBoundaryAndElsewhere() throws {
        let (footer, footerStart) = try Fixtures.footer(of: goodBytes)
        var cuts = Set([0, 1, 7, 8, 9, footerStart - 1, footerStart, footerStart + 1,
                        goodBytes.count - 24, goodBytes.count - 16, goodBytes.count - 8, goodBytes.count - 1])
        var offset = 8
        for t in footer.tensors {
            for c in t.frames {
                cuts.formUnion([offset, offset + 1, offset + c / 2, offset + c - 1])
                offset += c
            }
        }
        XCTAssertEqual(offset, footerStart)
        for cut in cuts.sorted() {
            try rejects(Array(goodBytes[..<cut]), "truncated at \(cut)")
            // The same bytes missing from the middle, with head and tail intact.
            if cut > 8, cut < footerStart {
                try rejects(Array(goodBytes[..<8]) + Array(goodBytes[cut...]), "bytes 8..<\(cut) missing")
            }
        }
    }

    func testEveryFlippedByteIsCaught() throws {
        for i in goodBytes.indices {
            var bytes = goodBytes
            bytes[i] ^= 0x20
            try rejects(bytes, "byte \(i) flipped")
        }
    }

    func testDamageStaysLocalToItsFrame() throws {
        let (footer, _) = try Fixtures.footer(of: goodBytes)
        var bytes = goodBytes
        bytes[8 + footer.tensors[0].frames[0] + 5] ^= 0xFF  // inside a's second frame (rows 3..<6 and part of 6)
        let p = path("local.mt")
        try Fixtures.save(bytes, p)
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(try r.readRows("a", 0..<3).bytes, Array(tensors[0].bytes[0..<36]), "first frame still reads")
        XCTAssertEqual(try r.read("b"), tensors[1], "other tensors still read")
        XCTAssertThrowsError(try r.readRows("a", 4..<5)) {
            XCTAssertTrue("\($0)".contains("frame 1"), "\($0)")
        }
        XCTAssertThrowsError(try r.verify())
    }

    /// A consistent reshape (same bytes, same frames) is a valid file, not a lie this format can
    /// see; everything below changes sizes or places and must be refused.
    func testLyingFootersAreRefused() throws {
        func lie(_ what: String, _ edit: (inout Footer) -> Void) throws {
            _ = try rejects(try Fixtures.replaceFooter(goodBytes, edit), what)
        }
        try lie("one more row") { $0.tensors[0].shape[0] += 1 }
        try lie("one row fewer") { $0.tensors[0].shape[0] -= 1 }
        try lie("huge shape") { $0.tensors[0].shape = [1 << 62, 4] }
        try lie("negative dimension") { $0.tensors[0].shape = [-12, -3] }
        try lie("offset shifted") { $0.tensors[1].offset += 1 }
        try lie("first offset not after the head") { $0.tensors[0].offset = 0 }
        try lie("frame sizes shuffled") { $0.tensors[0].frames[0] += 1; $0.tensors[0].frames[1] -= 1 }
        try lie("frames past the footer") { $0.tensors[1].frames[0] += 1 }
        try lie("a frame dropped") { $0.tensors[0].frames.removeLast() }
        try lie("frame size changed") { $0.tensors[0].frameBytes = 48 }
        try lie("frame size zero") { $0.tensors[0].frameBytes = 0 }
        try lie("duplicate names") { $0.tensors[1].name = "a" }
        try lie("future version") { $0.version = 3 }
        try lie("tensor dropped") { $0.tensors.removeLast() }
        for json in ["", "{}", "[]", "{\"version\":2}", "not json",
                     #"{"version":2,"metadata":{},"tensors":[{"name":"a","dtype":"f16","shape":[1],"offset":8,"frameBytes":4,"frames":[9]}]}"#] {
            try rejects(try Fixtures.replaceFooter(goodBytes, json: Array(json.utf8)), "footer \(json)")
        }
    }

    func testDTypeSwapIsCaughtByTheFrameHeader() throws {
        // b: 5 × i64 = 40 bytes in one frame. As f32 it would be 20 bytes: the frame count still
        // matches (one), so only the frame's own header can tell, before anything is allocated.
        let bytes = try Fixtures.replaceFooter(goodBytes) { $0.tensors[1].dtype = .f32 }
        let p = path("dtype.mt")
        try Fixtures.save(bytes, p)
        let r = try TensorFileReader(path: p)
        XCTAssertThrowsError(try r.read("b")) { XCTAssertTrue("\($0)".contains("declares 40 bytes"), "\($0)") }
        XCTAssertThrowsError(try r.verify())
    }

    func testLyingFrameHeaderSizeIsRefusedBeforeInflating() throws {
        // Patch the content-size field of a's first zstd frame to its largest value.
        var bytes = goodBytes
        let descriptor = bytes[8 + 4]
        let single = (descriptor >> 5) & 1 == 1
        let fcsBytes = [single ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
        let at = 8 + 5 + (single ? 0 : 1) + [0, 1, 2, 4][Int(descriptor & 3)]
        XCTAssertGreaterThan(fcsBytes, 0, "writer sets the content size flag")
        for i in at..<(at + fcsBytes) { bytes[i] = 0xFF }
        let message = try rejects(bytes, "frame header claims a huge size")
        XCTAssertTrue(message.contains("frame 0"), message)
    }

    func testHostileClaimsDoNotAllocate() throws {
        // A footer claiming a 256 GiB u8 tensor, consistent with its 8 MiB of (garbage) frames:
        // opening works (sizes add up), but reads must fail without allocating the claim.
        let frames = Array(repeating: 2048, count: 4096)
        let footer = Footer(version: 2, metadata: [:], tensors: [
            TensorRecord(name: "huge", dtype: .u8, shape: [1 << 38], offset: 8, frameBytes: 64 << 20, frames: frames),
        ])
        let json = [UInt8](try JSONEncoder().encode(footer))
        let bytes = Layout.headMagic + [UInt8](repeating: 0, count: 4096 * 2048) + json
            + LittleEndian.bytes(UInt64(json.count)) + LittleEndian.bytes(CRC32C.checksum(json))
            + LittleEndian.bytes(UInt32(2)) + Layout.tailMagic
        let p = path("hostile.mt")
        try Fixtures.save(bytes, p)
        let r = try TensorFileReader(path: p)
        XCTAssertEqual(try r.info("huge").byteCount, 1 << 38)
        XCTAssertThrowsError(try r.read("huge")) { XCTAssertTrue("\($0)".contains("memory"), "\($0)") }
        XCTAssertThrowsError(try r.readRows("huge", 0..<(1 << 30))) {
            XCTAssertTrue("\($0)".contains("no valid zstd header"), "\($0)")
        }
        XCTAssertThrowsError(try r.verify())
    }

    func testBadTrailerAndHead() throws {
        var bytes = goodBytes
        let n = bytes.count
        bytes.replaceSubrange((n - 24)..<(n - 16), with: LittleEndian.bytes(UInt64.max))
        XCTAssertTrue(try rejects(bytes, "footer length 2^64-1").contains("footer length"))
        bytes = goodBytes
        bytes.replaceSubrange((n - 24)..<(n - 16), with: LittleEndian.bytes(UInt64(n)))
        try rejects(bytes, "footer longer than the file")
        bytes = goodBytes
        bytes.replaceSubrange((n - 12)..<(n - 8), with: LittleEndian.bytes(UInt32(1)))
        XCTAssertTrue(try rejects(bytes, "trailer version").contains("corrupt trailer (format version 1, the head says 2)"))
        bytes = goodBytes
        bytes.replaceSubrange(0..<8, with: Array("MSCNTZ01".utf8))
        XCTAssertTrue(try rejects(bytes, "old head").contains("unsupported format version '01'"))
        try rejects([], "empty file")
        try rejects(Array("hello, this is not a tensor file at all".utf8), "text")
        try rejects(Layout.headMagic + Array(goodBytes.suffix(24)), "head and trailer only")
    }

    func testMissingFileAndDirectory() {
        let missing = path("missing.mt")
        XCTAssertTrue(Fixtures.expectRejected(missing, "missing")?.message.contains("no such file") ?? false)
        Fixtures.expectRejected(dir.path, "directory")
    }
}
