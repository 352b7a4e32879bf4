import CJPEG

/// Why a JPEG could not be read or written.
public struct JPEGError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case corrupt, truncated, unsupported }
    public var kind: Kind
    public var message: String
    public var description: String {
        switch kind {
        case .corrupt: return "not a decodable JPEG (\(message))"
        case .truncated: return "truncated or damaged JPEG data (\(message))"
        case .unsupported: return "unsupported JPEG (\(message))"
        }
    }
}

/// JPEG decoding and encoding through libjpeg, with libjpeg's fatal errors turned into `JPEGError`.
public enum JPEG {
    /// Decodes to RGB; grayscale, CMYK and YCCK files are converted. A file that decodes only
    /// with warnings (cut short, damaged entropy data) is an error, not a half-grey image.
    public static func decode(_ data: [UInt8]) throws -> RGBImage {
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let code = data.withUnsafeBufferPointer { buf in
            message.withUnsafeMutableBufferPointer { msg in
                cjpeg_decode_rgb(buf.baseAddress, buf.count, &out, &w, &h, msg.baseAddress, msg.count)
            }
        }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch Int(code) {
        case Int(CJPEG_OK):
            guard let out else { throw JPEGError(kind: .corrupt, message: "no pixels") }
            defer { cjpeg_free(out) }
            let n = Int(w) * Int(h) * 3
            return RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: n)))
        case Int(CJPEG_TRUNCATED): throw JPEGError(kind: .truncated, message: text)
        case Int(CJPEG_UNSUPPORTED): throw JPEGError(kind: .unsupported, message: text)
        default: throw JPEGError(kind: .corrupt, message: text)
        }
    }

    /// Encodes RGB at `quality` (baseline, fixed tables): the same pixels give the same bytes.
    public static func encode(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        try encode(samples: image.pixels, width: image.width, height: image.height, components: 3, quality: quality)
    }

    /// Encodes raw interleaved samples: 1 = gray, 3 = RGB, 4 = Adobe CMYK (stored inverted).
    public static func encode(samples: [UInt8], width: Int, height: Int, components: Int, quality: Int = 90) throws -> [UInt8] {
        guard samples.count == width * height * components else {
            throw JPEGError(kind: .unsupported, message: "\(samples.count) samples do not fit \(width)x\(height)x\(components)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let code = samples.withUnsafeBufferPointer { buf in
            message.withUnsafeMutableBufferPointer { msg in
                cjpeg_encode(buf.baseAddress, Int32(width), Int32(height), Int32(components), Int32(quality),
                             &out, &size, msg.baseAddress, msg.count)
            }
        }
        guard code == CJPEG_OK, let out else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw JPEGError(kind: .unsupported, message: text)
        }
        defer { cjpeg_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
