import MSCNRandom

/// What the built-in dataset draws: a few coloured shapes on a textured background.
public enum ShapeKind: Int, CaseIterable, Sendable {
    case circle, square, triangle, diamond, cross
}

public enum ShapeColour: Int, CaseIterable, Sendable {
    case red, green, blue, yellow, purple, orange

    /// Nominal RGB; each object jitters around it.
    var rgb: (Double, Double, Double) {
        switch self {
        case .red: return (215, 40, 40)
        case .green: return (40, 165, 60)
        case .blue: return (40, 70, 215)
        case .yellow: return (235, 210, 40)
        case .purple: return (135, 50, 170)
        case .orange: return (245, 135, 30)
        }
    }
}

public enum Background: Int, CaseIterable, Sendable {
    case grey, beige, pale

    var rgb: (Double, Double, Double) {
        switch self {
        case .grey: return (128, 128, 128)
        case .beige: return (196, 178, 140)
        case .pale: return (205, 210, 215)
        }
    }
}

public struct SceneObject: Sendable, Equatable {
    public var shape: ShapeKind
    public var colour: ShapeColour
    public var large: Bool
    /// Centre and radius as fractions of the image side.
    public var x: Double, y: Double, radius: Double
    /// RGB actually painted (nominal colour with jitter).
    var paint: (Double, Double, Double)

    public static func == (a: SceneObject, b: SceneObject) -> Bool {
        a.shape == b.shape && a.colour == b.colour && a.large == b.large && a.x == b.x && a.y == b.y && a.radius == b.radius
    }
}

public struct Scene: Sendable {
    public var objects: [SceneObject]
    public var background: Background

    /// 2–4 objects with distinct (shape, colour) pairs, spread out so they rarely overlap.
    public static func random(_ rng: inout SeededGenerator) -> Scene {
        let count = 2 + rng.below(3)
        var objects: [SceneObject] = []
        var tries = 0
        while objects.count < count && tries < 200 {
            tries += 1
            let shape = ShapeKind.allCases[rng.below(ShapeKind.allCases.count)]
            let colour = ShapeColour.allCases[rng.below(ShapeColour.allCases.count)]
            if objects.contains(where: { $0.shape == shape && $0.colour == colour }) { continue }
            let large = rng.below(2) == 1
            let radius = large ? 0.15 + 0.04 * rng.unitDouble() : 0.08 + 0.025 * rng.unitDouble()
            let x = radius + 0.02 + (1 - 2 * radius - 0.04) * rng.unitDouble()
            let y = radius + 0.02 + (1 - 2 * radius - 0.04) * rng.unitDouble()
            let clash = objects.contains { o in
                let d = ((o.x - x) * (o.x - x) + (o.y - y) * (o.y - y)).squareRoot()
                return d < 0.85 * (o.radius + radius)
            }
            if clash { continue }
            let c = colour.rgb
            let j = { (v: Double, r: inout SeededGenerator) in min(255, max(0, v + 30 * (r.unitDouble() - 0.5))) }
            let paint = (j(c.0, &rng), j(c.1, &rng), j(c.2, &rng))
            objects.append(SceneObject(shape: shape, colour: colour, large: large, x: x, y: y, radius: radius, paint: paint))
        }
        let background = Background.allCases[rng.below(Background.allCases.count)]
        return Scene(objects: objects, background: background)
    }
}

extension SceneObject {
    /// The same object painted in another nominal colour (no jitter).
    public func recoloured(_ colour: ShapeColour) -> SceneObject {
        var o = self
        o.colour = colour
        o.paint = colour.rgb
        return o
    }
}
