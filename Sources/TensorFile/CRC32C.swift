/// A reflected CRC-32 by its polynomial: Castagnoli's for the footer (frames carry zstd's own
/// checksum), IEEE's for the members of the ZIP archives `TorchSaveWriter` writes.
struct CRC32 {
    private let table: [UInt32]

    init(reflectedPolynomial: UInt32) {
        table = (0..<256).map { (i: Int) -> UInt32 in
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ reflectedPolynomial : c >> 1 }
            return c
        }
    }

    static let castagnoli = CRC32(reflectedPolynomial: 0x82F6_3B78)
    static let ieee = CRC32(reflectedPolynomial: 0xEDB8_8320)

    func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}

/// CRC-32C (Castagnoli), the checksum of the footer.
enum CRC32C {
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { CRC32.castagnoli.checksum(bytes) }
    static func checksum(_ bytes: [UInt8]) -> UInt32 { CRC32.castagnoli.checksum(bytes) }
}

/// Little-endian integer packing for the trailer.
enum LittleEndian {
    static func bytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: ArraySlice<UInt8>) -> T {
        var v: T = 0
        for (i, b) in bytes.prefix(MemoryLayout<T>.size).enumerated() { v |= T(b) << (8 * i) }
        return v
    }
}
