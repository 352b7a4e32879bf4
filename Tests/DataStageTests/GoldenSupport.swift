import BuiltinDataset
import Foundation
import TensorFile
import TestSupport
import XCTest

/// Golden inputs and expected outputs of the data stages, under `Tests/DataStageTests/Golden/`.
///
/// After an intended change of a stage's output, re-record with
///     MSCN_RECORD_GOLDEN=1 swift test --filter DataStageTests
/// review `git diff --stat Tests/DataStageTests/Golden`, and commit. Recording regenerates the
/// inputs too (generator JPEGs, the tiny .npy) and fails the recording tests on purpose, so a
/// recording run can never pass silently (and it refuses to run when CI is set).
enum Golden {
    static var root: URL { TestPaths.packageRoot.appendingPathComponent("Tests/DataStageTests/Golden") }
    static var recording: Bool { ProcessInfo.processInfo.environment["MSCN_RECORD_GOLDEN"] == "1" }

    static func folder(_ parts: String...) -> URL {
        parts.reduce(root) { $0.appendingPathComponent($1) }
    }

    /// The tiny images dataset: 4 train, 2 dev, 2 test images of 32×32 (generator seed 7).
    static let imagesGenerator = DatasetGenerator(train: 4, dev: 2, test: 2, size: 32, seed: 7)

    /// The tiny precomp dataset: features [n, 4, 6] with values from a fixed formula, K = 5.
    static func writePrecompInput(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let sizes = [("train", 3), ("dev", 3), ("test", 2)]
        let captions = [
            "A red circle above a blue square.", "Two shapes: a red circle and a square", "the circle's red",
            "a blue square , below", "A square and a circle", "a green triangle next to a zebra",
        ]
        for (split, n) in sizes {
            let values = (0..<(n * 4 * 6)).map { i in Float(i % 17) * 0.25 - Float(split.count) * 0.5 }
            try NPY.write(StoredTensor(name: split, shape: [n, 4, 6], floats: values),
                          to: dir.appendingPathComponent("\(split)_ims.npy").path)
            let lines = (0..<(n * 5)).map { captions[($0 + split.count) % captions.count] }
            try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("\(split)_caps.txt"),
                                                           atomically: true, encoding: .utf8)
        }
    }

    /// Copies a folder tree (inputs are copied before a test damages them).
    static func copy(_ from: URL, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from, to: to)
    }

    /// Compares every tensor and the metadata; floats within `tolerance`, everything else exact.
    static func assertSameTensors(_ actual: String, _ expected: String, tolerance: Float = 1e-5,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try TensorFiles.readAll(actual), e = try TensorFiles.readAll(expected)
        XCTAssertEqual(a.metadata, e.metadata, "metadata of \(actual)", file: file, line: line)
        XCTAssertEqual(Set(a.tensors.keys), Set(e.tensors.keys), "tensor names of \(actual)", file: file, line: line)
        for (name, want) in e.tensors {
            guard let got = a.tensors[name] else { continue }
            XCTAssertEqual(got.dtype, want.dtype, "\(name) dtype", file: file, line: line)
            XCTAssertEqual(got.shape, want.shape, "\(name) shape", file: file, line: line)
            if want.dtype == .f32, got.dtype == .f32, got.shape == want.shape {
                let worst = zip(try got.floats(), try want.floats()).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, tolerance, "\(name) in \(actual)", file: file, line: line)
            } else {
                XCTAssertEqual(got.bytes, want.bytes, "\(name) in \(actual)", file: file, line: line)
            }
        }
    }

    /// In recording mode copies `produced` over `expected`; otherwise compares them.
    static func check(_ produced: URL, against expected: URL, files: [String], tolerance: Float = 1e-5,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        if recording {
            guard ProcessInfo.processInfo.environment["CI"] == nil else {
                XCTFail("MSCN_RECORD_GOLDEN is set on CI: goldens are never re-recorded there", file: file, line: line)
                return
            }
            try FileManager.default.createDirectory(at: expected, withIntermediateDirectories: true)
            for name in files {
                let dst = expected.appendingPathComponent(name)
                try? FileManager.default.removeItem(at: dst)
                try FileManager.default.copyItem(at: produced.appendingPathComponent(name), to: dst)
            }
            XCTFail("re-recorded \(expected.path); review the diff and rerun without MSCN_RECORD_GOLDEN", file: file, line: line)
            return
        }
        for name in files {
            let got = produced.appendingPathComponent(name).path, want = expected.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.fileExists(atPath: want), "missing golden \(want) (record with MSCN_RECORD_GOLDEN=1)",
                          file: file, line: line)
            if name.hasSuffix(".tzst") {
                try assertSameTensors(got, want, tolerance: tolerance, file: file, line: line)
            } else {
                XCTAssertEqual(try String(contentsOfFile: got, encoding: .utf8), try String(contentsOfFile: want, encoding: .utf8),
                               name, file: file, line: line)
            }
        }
    }
}

/// Runs a stage and fails the test with its stderr when the exit status is not the expected one.
@discardableResult
func stage(_ name: String, _ args: [String], expect status: Int32 = 0,
           file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    let r = try runProduct(name, args)
    XCTAssertEqual(r.status, status, "\(name) \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
    return r
}
