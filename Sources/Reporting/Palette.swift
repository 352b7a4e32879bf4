/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. Series also
/// differ in dash pattern and marker so the figures survive greyscale printing.
public enum Palette {
    public static let blue = "#0072B2"
    public static let vermillion = "#D55E00"
    public static let green = "#009E73"
    public static let orange = "#E69F00"
    public static let purple = "#CC79A7"
    public static let sky = "#56B4E9"
    public static let grey = "#555555"

    /// A fixed order for series without a meaning of their own.
    public static let cycle = [blue, vermillion, green, orange, purple, sky]
}

/// Shared styling of figures and pages.
enum Style {
    static let font = "\"DejaVu Sans\", \"Helvetica Neue\", Helvetica, Arial, sans-serif"
}
