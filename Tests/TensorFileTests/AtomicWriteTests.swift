import Foundation
import TestSupport
import XCTest
@testable import TensorFile

/// The one writer of whole small files (logs, JSON, reports, the built-in data set's images) that
/// the stages, the runner and the report share.
final class AtomicWriteTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("atomicwrite") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

    func testWritesAndReplacesWholeFilesLeavingNoTemporary() throws {
        for durable in [true, false] {
            let p = path("a-\(durable).json")
            try AtomicWrite.write(Data("old".utf8), to: p, durable: durable)
            try AtomicWrite.write(Data("new and longer".utf8), to: p, durable: durable)
            XCTAssertEqual(String(decoding: try Data(contentsOf: URL(fileURLWithPath: p)), as: UTF8.self), "new and longer")
            try AtomicWrite.write(Data(), to: p, durable: durable)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p)).count, 0, "an empty file is a file")
        }
        XCTAssertEqual(try entries(), ["a-false.json", "a-true.json"], "no temporary left beside them")
    }

    func testFailuresNameThePathAndTheReasonAndLeaveNoTemporary() throws {
        let missing = path("no-such-folder/x.json")
        XCTAssertThrowsError(try AtomicWrite.write(Data("x".utf8), to: missing)) { error in
            let e = error as? TensorFileError
            XCTAssertEqual(e?.path, missing)
            XCTAssertTrue(e?.message.contains("No such file or directory") ?? false, "\(error)")
        }
        let file = path("plain")
        try AtomicWrite.write(Data("f".utf8), to: file)
        XCTAssertThrowsError(try AtomicWrite.write(Data("x".utf8), to: file + "/x.json")) { error in
            XCTAssertTrue("\(error)".contains("Not a directory"), "\(error)")
        }
        // A folder where the file should go: the rename fails after the bytes were written.
        let folder = path("taken")
        try FileManager.default.createDirectory(atPath: folder + "/inside", withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicWrite.write(Data("x".utf8), to: folder)) { error in
            XCTAssertTrue("\(error)".contains("cannot move the finished file into place"), "\(error)")
        }
        XCTAssertEqual(try entries(), ["plain", "taken"], "failed writes leave no temporary")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["inside"])
    }
}
