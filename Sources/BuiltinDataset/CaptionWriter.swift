import MSCNRandom

/// Five captions per scene in varied wording: several templates, synonyms, random object order,
/// optional size words, spatial relations ("left of", "above") computed from the layout.
public enum CaptionWriter {
    static let shapeWords: [ShapeKind: [String]] = [
        .circle: ["circle", "disc", "round dot"], .square: ["square", "box", "block"],
        .triangle: ["triangle"], .diamond: ["diamond", "rhombus"], .cross: ["cross", "plus sign"],
    ]
    static let colourWords: [ShapeColour: [String]] = [
        .red: ["red"], .green: ["green"], .blue: ["blue"], .yellow: ["yellow"],
        .purple: ["purple", "violet"], .orange: ["orange"],
    ]
    static let backgroundWords: [Background: [String]] = [
        .grey: ["grey", "gray"], .beige: ["beige", "sandy"], .pale: ["pale", "light"],
    ]
    static let numberWords = ["zero", "one", "two", "three", "four", "five"]

    public static func captions(_ scene: Scene, count: Int = 5, rng: inout SeededGenerator) -> [String] {
        var templates = Array(0..<6)
        rng.shuffle(&templates)
        return (0..<count).map { c in caption(scene, template: templates[c % templates.count], rng: &rng) }
    }

    static func pick(_ words: [String], _ rng: inout SeededGenerator) -> String { words[rng.below(words.count)] }

    /// "small red circle" with an optional size word.
    static func phrase(_ o: SceneObject, _ rng: inout SeededGenerator, sizeChance: Int = 2) -> String {
        var words: [String] = []
        if rng.below(sizeChance) == 0 { words.append(pick(o.large ? ["large", "big"] : ["small", "little", "tiny"], &rng)) }
        words.append(pick(colourWords[o.colour] ?? [], &rng))
        words.append(pick(shapeWords[o.shape] ?? [], &rng))
        return words.joined(separator: " ")
    }

    static func article(_ p: String) -> String {
        let vowels: Set<Character> = ["a", "e", "i", "o", "u"]
        return (p.first.map { vowels.contains($0) } ?? false ? "an " : "a ") + p
    }

    static func list(_ items: [String]) -> String {
        guard items.count > 1, let last = items.last else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + last
    }

    /// Where `a` is relative to `b`, in words.
    static func relation(_ a: SceneObject, _ b: SceneObject, _ rng: inout SeededGenerator) -> String {
        let dx = a.x - b.x, dy = a.y - b.y
        if abs(dx) >= abs(dy) {
            return dx < 0 ? pick(["to the left of", "left of", "on the left of"], &rng)
                          : pick(["to the right of", "right of", "on the right of"], &rng)
        }
        return dy < 0 ? pick(["above", "over"], &rng) : pick(["below", "under", "beneath"], &rng)
    }

    static func caption(_ scene: Scene, template: Int, rng: inout SeededGenerator) -> String {
        var objects = scene.objects
        rng.shuffle(&objects)
        let phrases = objects.map { article(phrase($0, &rng)) }
        let n = objects.count
        switch template {
        case 0:
            return list(phrases)
        case 1:
            let noun = pick(["shapes", "objects", "figures"], &rng)
            let bg = pick(backgroundWords[scene.background] ?? [], &rng)
            return "\(numberWords[min(n, 5)]) \(noun) on a \(bg) background: \(list(phrases))"
        case 2:
            let lead = pick(["a picture of", "an image showing", "a photo with", "a drawing of"], &rng)
            return "\(lead) \(list(phrases))"
        case 3 where n >= 2:
            var s = "there is \(phrases[0]) \(relation(objects[0], objects[1], &rng)) \(phrases[1])"
            if n > 2 { s += " and also " + list(Array(phrases[2...])) }
            return s
        case 4 where n >= 2:
            let first = "the " + phrase(objects[0], &rng, sizeChance: 3)
            let second = "the " + phrase(objects[1], &rng, sizeChance: 3)
            var s = "\(first) is \(relation(objects[0], objects[1], &rng)) \(second)"
            if n > 2 { s += ", next to " + list(Array(phrases[2...])) }
            return s
        default:
            let bg = pick(backgroundWords[scene.background] ?? [], &rng)
            return "\(list(phrases)) on a \(pick(["textured", "noisy", "patterned"], &rng)) \(bg) background"
        }
    }
}
