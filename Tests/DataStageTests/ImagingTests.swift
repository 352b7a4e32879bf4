import Imaging
import TestSupport
import XCTest

final class ImagingTests: XCTestCase {
    func gradient(_ w: Int, _ h: Int) -> RGBImage {
        var p = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                p[3 * (y * w + x)] = UInt8(x * 255 / max(w - 1, 1))
                p[3 * (y * w + x) + 1] = UInt8(y * 255 / max(h - 1, 1))
                p[3 * (y * w + x) + 2] = 90
            }
        }
        return RGBImage(width: w, height: h, pixels: p)
    }

    func testJPEGRoundTripIsCloseAndEncodingDeterministic() throws {
        let image = gradient(40, 24)
        let a = try JPEG.encode(image, quality: 95)
        XCTAssertEqual(a, try JPEG.encode(image, quality: 95))
        let back = try JPEG.decode(a)
        XCTAssertEqual(back.width, 40)
        XCTAssertEqual(back.height, 24)
        let worst = zip(back.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        XCTAssertLessThan(worst, 20)
    }

    func testGrayscaleAndCMYKBecomeRGB() throws {
        let gray = try JPEG.decode(try JPEG.encode(samples: [UInt8](repeating: 200, count: 16 * 16), width: 16, height: 16, components: 1))
        XCTAssertEqual(gray.pixels.count, 16 * 16 * 3)
        for i in 0..<(16 * 16) {
            XCTAssertEqual(Int(gray.pixels[3 * i]), 200, accuracy: 2)
            XCTAssertEqual(gray.pixels[3 * i], gray.pixels[3 * i + 1])
            XCTAssertEqual(gray.pixels[3 * i], gray.pixels[3 * i + 2])
        }
        // Adobe CMYK stores inverted inks: (R, G, B, 255) means no black, colour (R, G, B).
        var cmyk: [UInt8] = []
        for _ in 0..<(16 * 16) { cmyk += [220, 60, 30, 255] }
        let rgb = try JPEG.decode(try JPEG.encode(samples: cmyk, width: 16, height: 16, components: 4, quality: 100))
        XCTAssertEqual(Int(rgb.pixels[0]), 220, accuracy: 4)
        XCTAssertEqual(Int(rgb.pixels[1]), 60, accuracy: 4)
        XCTAssertEqual(Int(rgb.pixels[2]), 30, accuracy: 4)
    }

    func testCorruptAndTruncatedJPEGsAreErrorsNotExits() throws {
        XCTAssertThrowsError(try JPEG.decode(Array("not a jpeg at all".utf8))) { e in
            XCTAssertEqual((e as? JPEGError)?.kind, .corrupt)
        }
        XCTAssertThrowsError(try JPEG.decode([]))
        var noisy = gradient(64, 64)
        for i in noisy.pixels.indices { noisy.pixels[i] = noisy.pixels[i] &+ UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        let good = try JPEG.encode(noisy, quality: 90)
        XCTAssertGreaterThan(good.count, 2000)
        // Cut inside the entropy-coded data: libjpeg only warns, which must still be an error.
        XCTAssertThrowsError(try JPEG.decode(Array(good.prefix(good.count * 3 / 4)))) { e in
            XCTAssertEqual((e as? JPEGError)?.kind, .truncated, "\(e)")
        }
        var damaged = good
        for i in 2..<min(40, damaged.count) { damaged[i] = 0xFF }  // wipe the header markers
        XCTAssertThrowsError(try JPEG.decode(damaged))
    }

    func testAreaResizeAveragesBlocks() {
        // 4x2 → 2x1: each output pixel is the mean of a 2x2 block.
        var p = [UInt8](repeating: 0, count: 4 * 2 * 3)
        let reds: [UInt8] = [0, 100, 200, 255, 10, 30, 50, 70]
        for i in 0..<8 { p[3 * i] = reds[i] }
        let out = Resize.area(RGBImage(width: 4, height: 2, pixels: p), width: 2, height: 1)
        XCTAssertEqual(out.pixels[0], 35)   // (0+100+10+30)/4
        XCTAssertEqual(out.pixels[3], 144)  // (200+255+50+70)/4 = 143.75
        // Non-integer ratio: 3 → 2 gives weights 2/3, 1/3.
        let w = RGBImage(width: 3, height: 1, pixels: [0, 0, 0, 90, 90, 90, 180, 180, 180])
        XCTAssertEqual(Resize.area(w, width: 2, height: 1).pixels, [30, 30, 30, 150, 150, 150])
        let same = gradient(7, 5)
        XCTAssertEqual(Resize.area(same, width: 7, height: 5), same)
    }
}
