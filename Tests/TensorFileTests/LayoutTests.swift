import XCTest
@testable import TensorFile

/// Footer arithmetic without big files: offsets past 4 GB, overflow, frame lookup.
final class LayoutTests: XCTestCase {
    func testOffsetsBeyond4GBAreExact() throws {
        // 8 GiB of f32 then 8 GiB of f64 in 64 MiB frames: the second tensor starts past 2^32.
        let a = TensorRecord(name: "a", dtype: .f32, shape: [1 << 31], offset: 8, frameBytes: 64 << 20,
                             frames: Array(repeating: 40_000_000, count: 128))
        let bStart = 8 + 128 * 40_000_000
        let bFrames = (0..<128).map { 50_000_000 + $0 }
        let b = TensorRecord(name: "b", dtype: .f64, shape: [1 << 29, 2], offset: bStart, frameBytes: 64 << 20,
                             frames: bFrames)
        let end = bStart + bFrames.reduce(0, +)
        XCTAssertGreaterThan(end, 1 << 33)
        let entries = try Footer(version: 2, metadata: [:], tensors: [a, b])
            .validate(dataStart: 8, dataEnd: end, path: "big.mt")
        XCTAssertEqual(entries[0].byteCount, 1 << 33)
        XCTAssertEqual(entries[1].byteCount, 1 << 33)
        XCTAssertGreaterThan(bStart, Int(UInt32.max))
        XCTAssertEqual(entries[1].frameOffsets.first, bStart)
        XCTAssertEqual(entries[1].frameOffsets[100], bStart + (0..<100).reduce(0) { $0 + 50_000_000 + $1 })
        XCTAssertEqual(entries[1].frameOffsets.last, end)
        XCTAssertEqual(entries[1].storedByteCount, end - bStart)
        XCTAssertEqual(entries[1].rowBytes, 16)
        // Rows near the end of b map to its last frames.
        let rows = ((1 << 29) - 5_000_000)..<(1 << 29)
        let frames = entries[1].frames(covering: (rows.lowerBound * 16)..<(rows.upperBound * 16))
        XCTAssertEqual(frames, 126..<128)
        XCTAssertEqual(entries[1].rawSize(ofFrame: 127), 64 << 20)
        XCTAssertEqual(entries[1].info.offset, bStart)

        // The same table one byte short of, or past, the footer is refused.
        for wrongEnd in [end - 1, end + 1] {
            XCTAssertThrowsError(try Footer(version: 2, metadata: [:], tensors: [a, b])
                .validate(dataStart: 8, dataEnd: wrongEnd, path: "big.mt"))
        }
    }

    func testSizesThatWouldOverflowAreRefused() {
        let cases: [TensorRecord] = [
            // Compressed sizes summing past Int.max.
            TensorRecord(name: "x", dtype: .u8, shape: [2], offset: 8, frameBytes: 1, frames: [Int.max - 4, Int.max - 4]),
            // Shape product overflow.
            TensorRecord(name: "x", dtype: .f64, shape: [1 << 40, 1 << 40], offset: 8, frameBytes: 1 << 20, frames: []),
            // Negative sizes.
            TensorRecord(name: "x", dtype: .u8, shape: [-4], offset: 8, frameBytes: 1, frames: []),
            TensorRecord(name: "x", dtype: .u8, shape: [4], offset: 8, frameBytes: 4, frames: [-10]),
            // A claim no zstd frame can back: 1 TiB from 16 KiB of frames.
            TensorRecord(name: "x", dtype: .u8, shape: [1 << 40], offset: 8, frameBytes: 64 << 20,
                         frames: Array(repeating: 1, count: 1 << 14)),
            // A frame bigger than zstd's bound for its raw size.
            TensorRecord(name: "x", dtype: .u8, shape: [4], offset: 8, frameBytes: 4, frames: [10_000]),
            // Rank and frame size limits.
            TensorRecord(name: "x", dtype: .u8, shape: Array(repeating: 1, count: 65), offset: 8, frameBytes: 1, frames: [9]),
            TensorRecord(name: "x", dtype: .u8, shape: [4], offset: 8, frameBytes: 0, frames: [9]),
            TensorRecord(name: "x", dtype: .u8, shape: [4], offset: 8, frameBytes: (64 << 20) + 1, frames: [13]),
        ]
        for (i, t) in cases.enumerated() {
            let end = 8 + t.frames.reduce(0) { $0 &+ $1 }
            XCTAssertThrowsError(try Footer(version: 2, metadata: [:], tensors: [t])
                .validate(dataStart: 8, dataEnd: max(end, 8), path: "h.mt"), "case \(i)") {
                XCTAssertEqual(($0 as? TensorFileError)?.path, "h.mt")
            }
        }
    }

    func testFrameLookup() {
        let e = TensorEntry(name: "t", dtype: .u8, shape: [10], byteCount: 10, frameBytes: 4, frameOffsets: [8, 9, 10, 11])
        XCTAssertEqual(e.frames(covering: 0..<10), 0..<3)
        XCTAssertEqual(e.frames(covering: 4..<8), 1..<2)
        XCTAssertEqual(e.frames(covering: 3..<5), 0..<2)
        XCTAssertEqual(e.frames(covering: 9..<10), 2..<3)
        XCTAssertEqual(e.frames(covering: 5..<5), 0..<0)
        XCTAssertEqual(e.rawSize(ofFrame: 2), 2)
    }

    func testCRC32CMatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }
}
