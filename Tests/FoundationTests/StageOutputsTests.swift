import Foundation
import StageKit
import TensorFile
import TestSupport
import XCTest

/// A stage's outputs as one unit, and Foundation's file errors as one readable line.
final class StageOutputsTests: XCTestCase {
    func testTwoFlagsNamingOneFileAreRefused() throws {
        XCTAssertNoThrow(try StageOutputs.requireDistinct([("--out", "a.tzst"), ("--log", "a.log"), ("--regime", nil)]))
        XCTAssertThrowsError(try StageOutputs.requireDistinct([("--out", "dir/a.tzst"), ("--log", "dir/./a.tzst")])) { e in
            XCTAssertTrue("\(e)".contains("--out and --log name the same file"), "\(e)")
        }
    }

    func testAFailingWriteRemovesTheEarlierOnes() throws {
        let dir = TestPaths.temporaryDirectory("stage-outputs")
        let first = dir.appendingPathComponent("first").path, second = dir.appendingPathComponent("second").path
        struct Refused: Error {}
        XCTAssertThrowsError(try StageOutputs.writeAll([
            (first, { try Data("1".utf8).write(to: URL(fileURLWithPath: first)) }),
            (second, { throw Refused() }),
        ])) { XCTAssertTrue($0 is Refused) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: first))
        try StageOutputs.writeAll([
            (first, { try Data("1".utf8).write(to: URL(fileURLWithPath: first)) }),
            (second, { try Data("2".utf8).write(to: URL(fileURLWithPath: second)) }),
        ])
        XCTAssertTrue(FileManager.default.fileExists(atPath: first) && FileManager.default.fileExists(atPath: second))
    }

    func testFoundationFileErrorsReadAsPathAndReason() throws {
        let missing = TestPaths.temporaryDirectory("stage-describe").appendingPathComponent("no-such-folder/x.json").path
        do {
            try Data("x".utf8).write(to: URL(fileURLWithPath: missing))
            XCTFail("wrote into a missing folder")
        } catch {
            XCTAssertEqual(Stage.describe(error), "\(missing): No such file or directory")
        }
        struct Plain: Error, CustomStringConvertible { var description: String { "plain" } }
        XCTAssertEqual(Stage.describe(Plain()), "plain")
    }

    /// An output in a missing folder, or under a file, was found only when written, after the work.
    func testOutputFoldersAreCheckedBeforeTheWork() throws {
        let dir = TestPaths.temporaryDirectory("stage-folders")
        let file = dir.appendingPathComponent("a-file").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertNoThrow(try StageOutputs.requireWritableFolders([dir.appendingPathComponent("out.tzst").path, nil]))
        for (path, reason) in [(dir.appendingPathComponent("missing/out.tzst").path, "No such file or directory"),
                               (file + "/out.tzst", "Not a directory")] {
            XCTAssertThrowsError(try StageOutputs.requireWritableFolders([nil, path])) { error in
                XCTAssertTrue(Stage.describe(error).hasPrefix("\(path): \(reason) (its folder"), Stage.describe(error))
            }
        }
    }

    /// A full disk read "cannot write" with no reason, or "NSCocoaErrorDomain error 512".
    func testFoundationErrorsWithoutAPathGiveTheSystemsReason() {
        let full = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteOutOfSpaceError,
                           userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        XCTAssertEqual(IOErrorText.reason(full), "No space left on device")
        XCTAssertEqual(Stage.describe(full), "No space left on device")
        let bare = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteNoPermissionError, userInfo: [NSFilePathErrorKey: "/x/y"])
        XCTAssertEqual(Stage.describe(bare), "/x/y: Permission denied")
        XCTAssertEqual(IOErrorText.reason(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOTDIR))), "Not a directory")
    }
}
