import Foundation
import TestSupport
import XCTest
@testable import TensorFile

final class NPYTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = TestPaths.temporaryDirectory("tensorfile-npy") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Runs a python3 script in the test folder; nil when python3 with numpy is not installed.
    func python(_ script: String) throws -> ProcessResult? {
        let probe = try runProduct("/usr/bin/env", ["python3", "-c", "import numpy"])
        guard probe.status == 0 else { return nil }
        return try runProduct("/usr/bin/env", ["python3", "-c", script], cwd: dir)
    }

    /// A version 1.0 .npy file built by hand, as numpy lays it out.
    static func npy(_ header: String, _ data: [UInt8]) -> [UInt8] {
        var text = header
        text += String(repeating: " ", count: (64 - (10 + text.utf8.count + 1) % 64) % 64) + "\n"
        let n = text.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8) + data
    }

    func testHandBuiltNPYImports() throws {
        let values: [Int32] = [1, -2, 3, -4, 5, 1 << 30]
        let data = values.withUnsafeBytes { Array($0) }
        let p = path("hand.npy")
        try Fixtures.save(Self.npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", data), p)
        let t = try NPY.read(p)
        XCTAssertEqual(t.name, "hand")
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(try t.int32s(), values)
        let out = path("hand.mt")
        try NPY.importFile(p, to: out, name: "renamed")
        let back = try TensorFileReader(path: out).read("renamed")
        XCTAssertEqual(try back.int32s(), values)
        XCTAssertEqual(back.shape, [2, 3])
        // Our own writer's bytes match numpy's layout for the same array.
        XCTAssertEqual(NPY.headerBytes(dtype: .i32, shape: [2, 3]) + data, try Fixtures.bytes(p))
    }

    func testNumpyInterop() throws {
        let make = """
        import numpy as np
        shapes = [(), (0,), (3, 0), (7,), (4, 5), (2, 3, 4)]
        for d in ['<f4', '<f8', '<i4', '<i8', '|u1']:
            for k, s in enumerate(shapes):
                n = int(np.prod(s))
                a = ((np.arange(n) * 7919 + k) % 251 - 100).astype(d).reshape(s)
                name = 'x%s_%d' % (d[1:], k)
                np.save(name + '.npy', a)
                open(name + '.bin', 'wb').write(a.tobytes())
        with open('v2.npy', 'wb') as f:
            np.lib.format.write_array(f, np.arange(6, dtype='<f8').reshape(2, 3), version=(2, 0))
        np.save('big_endian.npy', np.arange(4, dtype='>f4'))
        np.save('fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
        np.save('complex.npy', np.arange(3, dtype='<c8'))
        print('made')
        """
        guard let made = try python(make) else {
            throw XCTSkip("python3 with numpy not installed; testHandBuiltNPYImports covers the format")
        }
        XCTAssertEqual(made.status, 0, made.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasPrefix("x") && $0.hasSuffix(".npy") }.sorted()
        XCTAssertEqual(names.count, 30)
        for n in names {
            let base = String(n.dropLast(4))
            let mt = path(base + ".mt")
            // Tiny chunks and frames: every conversion streams through many steps.
            try NPY.importFile(path(n), to: mt, name: nil, metadata: [:], progress: nil, chunkBytes: 24, frameBytes: 16)
            let r = try TensorFileReader(path: mt)
            let t = try r.read(base)
            XCTAssertEqual(t.bytes, try Fixtures.bytes(path(base + ".bin")), n)
            XCTAssertEqual(t.shape, try NPYReader(path: path(n)).shape)
            try NPY.exportTensor(base, from: r, to: path(base + ".out.npy"), progress: nil, chunkBytes: 40)
        }
        let v2 = try NPY.read(path("v2.npy"))
        XCTAssertEqual(try v2.doubles(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(v2.shape, [2, 3])
        for bad in ["big_endian.npy", "fortran.npy", "complex.npy"] {
            XCTAssertThrowsError(try NPY.importFile(path(bad), to: path(bad + ".mt"))) {
                XCTAssertEqual(($0 as? TensorFileError)?.path, self.path(bad))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path(bad + ".mt")))
        }
        let check = """
        import numpy as np, glob
        bad = []
        for out in sorted(glob.glob('x*.out.npy')):
            a, b = np.load(out), np.load(out.replace('.out', ''))
            if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b): bad.append(out)
        print('checked %d, bad %s' % (len(glob.glob('x*.out.npy')), bad))
        """
        let checked = try python(check)
        XCTAssertEqual(checked?.status, 0, checked?.stderr ?? "")
        XCTAssertEqual(checked?.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "checked 30, bad []")
    }

    func testStreamingImportReportsProgressAndMatches() throws {
        let t = Fixtures.tensor(.f64, [100, 13], name: "s")  // 10400 bytes
        let p = path("s.npy")
        try NPY.write(t, to: p)
        var seen: [Int] = []
        try NPY.importFile(p, to: path("s.mt"), name: nil, metadata: ["k": "v"], progress: { done, total in
            XCTAssertEqual(total, 10400)
            seen.append(done)
        }, chunkBytes: 1000, frameBytes: 256)
        XCTAssertEqual(seen, Array(stride(from: 1000, to: 10400, by: 1000)) + [10400])
        let r = try TensorFileReader(path: path("s.mt"))
        XCTAssertEqual(try r.read("s"), t)
        XCTAssertEqual(r.metadata, ["k": "v"])
        XCTAssertEqual(try r.info("s").frameCount, 41)
    }

    func testDefaultNames() {
        XCTAssertEqual(NPY.defaultName(for: "/a/b/feat.v1.npy"), "feat.v1")
        XCTAssertEqual(NPY.defaultName(for: "feat"), "feat")
        XCTAssertEqual(NPY.defaultName(for: "x.bin"), "x.bin")
    }

    func testBadNPYFilesAreRefused() throws {
        let data = [UInt8](repeating: 0, count: 24)
        let cases: [(String, [UInt8])] = [
            ("truncated data", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", data)),
            ("extra data", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data)),
            ("overflowing shape", Self.npy("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807), }", data)),
            ("negative dimension", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", data)),
            ("big-endian", Self.npy("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", data)),
            ("fortran order", Self.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data)),
            ("no shape", Self.npy("{'descr': '<f4', 'fortran_order': False, }", data)),
            ("bad magic", Array("not numpy at all, just text.".utf8)),
            ("header longer than file", [0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF] + Array("{'descr'".utf8)),
            ("empty", []),
        ]
        for (what, bytes) in cases {
            let p = path("bad.npy")
            try Fixtures.save(bytes, p)
            XCTAssertThrowsError(try NPYReader(path: p), what) { XCTAssertEqual(($0 as? TensorFileError)?.path, p, what) }
            XCTAssertThrowsError(try NPY.read(p), what)
        }
        XCTAssertThrowsError(try NPYReader(path: path("missing.npy"))) {
            XCTAssertEqual(($0 as? TensorFileError)?.message, "no such file")
        }
    }
}
