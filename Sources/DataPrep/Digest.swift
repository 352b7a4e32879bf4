import Foundation

/// Content digests recorded in artefact manifests (provenance, not security: FNV-1a, 64 bits).
public enum ContentDigest {
    /// `fnv1a64:<16 hex digits>` of a file's bytes, read in chunks.
    public static func file(_ path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw DataPrepError("\(path): \(FileManager.default.fileExists(atPath: path) ? "cannot open for reading" : "no such file")")
        }
        defer { try? h.close() }
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        while true {
            let chunk = h.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            for b in chunk { state = (state ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        return "fnv1a64:" + String(format: "%016llx", state)
    }
}
