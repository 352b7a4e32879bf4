import Foundation
import TestSupport
import XCTest
@testable import TensorFile

/// `mscn tensor ...` as a user runs it.
final class CLITests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("tensorfile-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func mscn(_ args: String...) throws -> ProcessResult { try runProduct("mscn", ["tensor"] + args) }

    func testImportInfoVerifyExport() throws {
        let t = Fixtures.tensor(.f32, [6, 4, 2], name: "ignored")
        try NPY.write(t, to: path("feat.npy"))
        var r = try mscn("import-npy", path("feat.npy"), path("feat.mt"))
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try mscn("info", path("feat.mt"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("feat\tf32\t[6, 4, 2]\t192 B"), r.stdout)
        XCTAssertTrue(r.stdout.contains("meta source = feat.npy"), r.stdout)
        r = try mscn("verify", path("feat.mt"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("ok"), r.stdout)
        r = try mscn("export-npy", path("feat.mt"), "feat", path("back.npy"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Fixtures.bytes(path("back.npy")), try Fixtures.bytes(path("feat.npy")))

        r = try mscn("import-npy", path("feat.npy"), path("named.mt"), "--name", "images/features")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try TensorFileReader(path: path("named.mt")).read("images/features").bytes, t.bytes)
    }

    func testBadInputExitsOneWithAOneLineErrorNamingTheFile() throws {
        try TensorFiles.write(path("good.mt"), [Fixtures.tensor(.i32, [64], name: "a")])
        var bytes = try Fixtures.bytes(path("good.mt"))
        bytes[12] ^= 0xFF  // inside the only frame: the footer is fine, the frame is not
        try Fixtures.save(bytes, path("damaged.mt"))
        try Fixtures.save(Array(bytes[..<40]), path("short.mt"))
        try Fixtures.save(Array("{'descr': '<f4'}".utf8), path("bad.npy"))
        let cases: [([String], String)] = [
            (["info", path("missing.mt")], path("missing.mt")),
            (["info", path("short.mt")], path("short.mt")),
            (["verify", path("damaged.mt")], path("damaged.mt")),
            (["verify", path("short.mt")], path("short.mt")),
            (["export-npy", path("good.mt"), "nope", path("o.npy")], path("good.mt")),
            (["export-npy", path("damaged.mt"), "a", path("o.npy")], path("damaged.mt")),
            (["import-npy", path("bad.npy"), path("o.mt")], path("bad.npy")),
            (["import-npy", path("missing.npy"), path("o.mt")], path("missing.npy")),
        ]
        for (args, named) in cases {
            let r = try runProduct("mscn", ["tensor"] + args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(named), "\(args): \(r.stderr)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(left, ["bad.npy", "damaged.mt", "good.mt", "short.mt"], "failed commands leave no output")
    }
}
