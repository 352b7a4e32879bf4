import Foundation
import Imaging

/// Small inline images: shrink by area averaging, encode as JPEG, wrap as a `data:` URI, so the
/// report needs no files beside it.
enum Thumbnail {
    /// An `<img>` element showing the image with its longer side `side` pixels on screen
    /// (small images are enlarged by the browser, large ones shrunk before encoding).
    static func img(pixels: [UInt8], width: Int, height: Int, side: Int, alt: String) throws -> String {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw ReportError("image of \(pixels.count) bytes does not fit \(width)×\(height)×3")
        }
        let scale = Double(side) / Double(max(width, height))
        let (w, h) = (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
        var image = RGBImage(width: width, height: height, pixels: pixels)
        if scale < 1 { image = Resize.area(image, width: w, height: h) }
        let jpeg = try JPEG.encode(image, quality: 88)
        return "<img src=\"data:image/jpeg;base64,\(Data(jpeg).base64EncodedString())\" width=\"\(w)\" height=\"\(h)\" alt=\"\(escapeXML(alt))\">"
    }
}
