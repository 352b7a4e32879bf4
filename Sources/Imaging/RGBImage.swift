/// An 8-bit RGB image, rows top to bottom, pixels interleaved (`[H, W, 3]` in C order).
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "\(pixels.count) bytes do not make a \(width)x\(height) RGB image")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniformly coloured image.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            p[3 * i] = fill.0
            p[3 * i + 1] = fill.1
            p[3 * i + 2] = fill.2
        }
        self.init(width: width, height: height, pixels: p)
    }
}
