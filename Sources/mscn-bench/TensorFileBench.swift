import Foundation
import TensorFile

/// Tensor file throughput and memory on a 1 GB float32 feature-like tensor ([3400, 36, 2048],
/// ReLU-like: ~55% zeros, the rest full-mantissa floats). Targets on 2 cores at the default
/// level: read ≥ 800 MB/s and write ≥ 250 MB/s (raw bytes), peak RSS ≤ 1.3× the tensor.
enum TensorFileBench {
    static let shape = [3400, 36, 2048]
    static var rowBytes: Int { shape.dropFirst().reduce(4, *) }
    static var totalBytes: Int { shape[0] * rowBytes }

    static var benchmarks: [Benchmark] {
        [Benchmark(name: "tensorfile", run: run)]
    }

    static func run() {
        let dir = NSTemporaryDirectory() + "mscn-bench-tensorfile-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            try measure(dir: dir)
        } catch {
            print("tensorfile bench failed: \(error)")
        }
    }

    static func measure(dir: String) throws {
        let mb = Double(totalBytes) / 1e6
        let streamed = dir + "/streamed.mt", whole = dir + "/whole.mt"
        print(String(format: "tensor %@ f32, %.0f MB, %d cores", "\(shape)", mb,
                     ProcessInfo.processInfo.activeProcessorCount))

        // Streaming first, so the peak RSS printed here is the streaming path's alone.
        let blockRows = 64
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockRows * rowBytes, alignment: 64)
        defer { block.deallocate() }
        var t = Date()
        var c = cpuSplit()
        let w = try TensorFileWriter(path: streamed)
        try w.beginTensor(name: "features", dtype: .f32, shape: shape)
        var genTime = 0.0, genCPU = 0.0
        for start in stride(from: 0, to: shape[0], by: blockRows) {
            let rows = start..<min(start + blockRows, shape[0])
            let g = Date(), gc = cpuSplit().user
            let part = UnsafeMutableRawBufferPointer(rebasing: block[0..<(rows.count * rowBytes)])
            fill(part, rows: rows)
            genTime += Date().timeIntervalSince(g)
            genCPU += cpuSplit().user - gc
            try w.append(UnsafeRawBufferPointer(part))
        }
        try w.endTensor()
        try w.finish()
        report("streaming write (64-row appends, generation excluded)", wall: Date().timeIntervalSince(t) - genTime,
               since: c, excluding: genCPU)
        let stored = (try FileManager.default.attributesOfItem(atPath: streamed)[.size] as? Int) ?? 0
        t = Date()
        c = cpuSplit()
        let r = try TensorFileReader(path: streamed)
        var streamSum: UInt64 = 0
        for start in stride(from: 0, to: shape[0], by: blockRows) {
            let rows = start..<min(start + blockRows, shape[0])
            let part = UnsafeMutableRawBufferPointer(rebasing: block[0..<(rows.count * rowBytes)])
            try r.readRows("features", rows, into: part)
            streamSum = digest(UnsafeRawBufferPointer(part), streamSum)
        }
        report("streaming read (64-row readRows into one buffer, incl. a digest)", wall: Date().timeIntervalSince(t), since: c)
        print(String(format: "stored %.0f MB (ratio %.2f), peak RSS so far %.0f MB", Double(stored) / 1e6,
                     Double(totalBytes) / Double(max(stored, 1)), peakRSS() / 1e6))

        // Whole tensor in memory: the common stage pattern (StoredTensor in, StoredTensor out).
        var expected: UInt64 = 0
        do {
            let bytes = [UInt8](unsafeUninitializedCapacity: totalBytes) { buffer, count in
                fill(UnsafeMutableRawBufferPointer(buffer), rows: 0..<shape[0])
                count = totalBytes
            }
            expected = bytes.withUnsafeBytes { digest($0, 0) }
            let tensor = StoredTensor(name: "features", dtype: .f32, shape: shape, bytes: bytes)
            t = Date()
            c = cpuSplit()
            try TensorFiles.write(whole, [tensor])
            report("write (whole StoredTensor, default level \(TensorFileWriter.defaultCompressionLevel), incl. fsync)", wall: Date().timeIntervalSince(t), since: c)
        }
        t = Date()
        c = cpuSplit()
        let back = try TensorFileReader(path: whole).read("features")
        report("read (whole tensor, file in page cache)", wall: Date().timeIntervalSince(t), since: c)
        let got = back.bytes.withUnsafeBytes { digest($0, 0) }
        let same = got == expected && streamSum == expected
            && FileManager.default.contentsEqual(atPath: streamed, andPath: whole)
        print("round trip identical: \(same) (streamed and whole-tensor files byte-identical)")
        let peak = peakRSS()
        print(String(format: "peak RSS %.0f MB = %.2fx the tensor (target <= 1.30x)", peak / 1e6, peak / Double(totalBytes)))
    }

    /// ReLU-like activations, a pure function of the row so any chunking gives the same bytes.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, rows: Range<Int>) {
        let perRow = rowBytes / 4
        let floats = buffer.bindMemory(to: Float.self)
        for (i, row) in rows.enumerated() {
            var s = UInt64(truncatingIfNeeded: row) &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D
            for j in 0..<perRow {
                s ^= s << 13
                s ^= s >> 7
                s ^= s << 17
                let zero = (s & 0xFF) < 141
                floats[i * perRow + j] = zero ? 0 : Float(s >> 40) * 0x1p-22
            }
        }
    }

    static func digest(_ bytes: UnsafeRawBufferPointer, _ seed: UInt64) -> UInt64 {
        var h = seed
        let words = bytes.count / 8
        for i in 0..<words {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01B3
        }
        for i in (words * 8)..<bytes.count { h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01B3 }
        return h
    }

    /// User and system CPU seconds of this process so far: with CPU / wall a phase shows how
    /// much of the machine it got (the bench machine is shared).
    static func cpuSplit() -> (user: Double, system: Double) {
        var usage = rusage()
        #if os(Linux)
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (s(usage.ru_utime), s(usage.ru_stime))
    }

    /// One line per phase; `excluding` seconds of user time (data generation) are not counted.
    static func report(_ label: String, wall: Double, since c: (user: Double, system: Double), excluding: Double = 0) {
        let mb = Double(totalBytes) / 1e6
        let now = cpuSplit()
        let user = now.user - c.user - excluding, system = now.system - c.system
        print(String(format: "%@: %.0f MB/s (%.2f s wall; CPU %.2f s user + %.2f s system = %.2f cores busy, %.0f MB per CPU-second)",
                     label, mb / wall, wall, user, system, (user + system) / wall, mb / (user + system)))
    }

    /// Peak resident set size in bytes (VmHWM, else getrusage).
    static func peakRSS() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb * 1024
        }
        var usage = rusage()
        #if os(Linux)
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss)  // bytes on macOS
        #endif
    }
}
