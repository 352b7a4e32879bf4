import Foundation
import TensorFile
import TestSupport
import XCTest

/// The safetensors reader and writer: round trips, a file written by the Python library, and
/// hostile headers, each refused with an error naming the file before any data is read.
final class SafetensorsTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("safetensors") }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    let tensors = [
        StoredTensor(name: "w", shape: [2, 3], floats: [1, -2, 3.5, .pi, 0, -0]),
        StoredTensor(name: "count", shape: [], int64s: [7]),
        StoredTensor(name: "d", shape: [1], doubles: [1e-300]),
        StoredTensor(name: "i", shape: [2], int32s: [-1, Int32.max]),
        StoredTensor(name: "mask", shape: [3], uint8s: [0, 1, 255]),
        StoredTensor(name: "empty", shape: [0, 4], floats: []),
    ]

    func testRoundTripIsExactAndDeterministic() throws {
        try Safetensors.write(path("a.safetensors"), tensors, metadata: ["config": "{\"a\": \"b\\n\"}", "x": "é"])
        let (metadata, back) = try Safetensors.read(path("a.safetensors"))
        XCTAssertEqual(metadata, ["config": "{\"a\": \"b\\n\"}", "x": "é"])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: back.map { ($0.name, $0) }),
                       Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) }))
        let bytes = try Data(contentsOf: dir.appendingPathComponent("a.safetensors"))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "header padded to 8 bytes as the Python library does")
        try Safetensors.write(path("b.safetensors"), tensors.reversed(), metadata: ["x": "é", "config": "{\"a\": \"b\\n\"}"])
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("b.safetensors")), bytes, "same tensors, same bytes")
        XCTAssertThrowsError(try Safetensors.write(path("c.safetensors"), tensors + [tensors[0]])) {
            XCTAssertTrue("\($0)".contains("two tensors named 'w'"), "\($0)")
        }
    }

    /// A file written by `safetensors.torch.save_file` (see Tests/StageTests/Golden/pytorch-weights).
    func testReadsAFileWrittenByPython() throws {
        let file = TestPaths.packageRoot.appendingPathComponent("Tests/StageTests/Golden/pytorch-weights/reference-sgr.safetensors").path
        let (metadata, tensors) = try Safetensors.read(file)
        XCTAssertEqual(metadata, [:])
        XCTAssertEqual(tensors.count, 59)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
        XCTAssertEqual(byName["net_A.img_enc.fc.weight"]?.shape, [16, 32])
        XCTAssertEqual(byName["net_A.sim_enc.v_global_w.embedding_local.1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(byName["net_A.sim_enc.v_global_w.embedding_local.1.num_batches_tracked"]?.shape, [])
    }

    /// Writes `header` (JSON text) with a correct length prefix and `data` after it.
    func raw(_ header: String, data: [UInt8] = [], length: UInt64? = nil) throws -> String {
        let h = Array(header.utf8)
        var bytes: [UInt8] = []
        let n = length ?? UInt64(h.count)
        for i in 0..<8 { bytes.append(UInt8((n >> (8 * UInt64(i))) & 0xff)) }
        bytes += h + data
        let p = path("bad-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func assertRefused(_ file: String, _ words: String..., line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.read(file), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(file + ": "), "names the file: \(text)", line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' in: \(text)", line: line) }
        }
    }

    func testHostileFilesAreRefused() throws {
        let four = [UInt8](repeating: 0, count: 4)
        let ok = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        _ = try Safetensors.read(try raw(ok, data: four))  // the baseline is fine

        let empty = path("empty.safetensors")
        try Data().write(to: URL(fileURLWithPath: empty))
        assertRefused(empty, "too short")
        assertRefused(path("absent.safetensors"), "no such file")
        assertRefused(try raw(ok, data: four, length: 1 << 40), "exceeds the limit")
        assertRefused(try raw(ok, data: four, length: 4096), "runs past the end")
        assertRefused(try raw("[1, 2]"), "does not start with '{'")
        assertRefused(try raw("{not json"), "not a safetensors JSON table")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[1]}}"#), "not a safetensors JSON table")
        assertRefused(try raw(#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, data: four), "'a'", "Q9", "not a safetensors dtype")
        assertRefused(try raw(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: four), "F16 is not supported")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: four), "negative dimension")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: four), "overflows")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: four), "not a safetensors JSON table")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: four), "needs 8 bytes")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: four), "begin ≤ end")
        assertRefused(try raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: four + four), "leaves a gap")
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRefused(try raw(overlap, data: four + four), "overlaps")
        assertRefused(try raw(ok, data: four + [1]), "describes 4 data bytes, the file holds 5")
        assertRefused(try raw(ok, data: [0, 0]), "describes 4 data bytes, the file holds 2")
        assertRefused(try raw(#"{"__metadata__":{"a":1}}"#), "not a safetensors JSON table", "__metadata__")
        assertRefused(try raw(#"{"x":{"a":"b"}}"#), "'x' is not a tensor")
        assertRefused(try raw("{\"a\":\"\u{1}\"", data: []), "not a safetensors JSON table")
    }
}
