import GraftFoundation

/// A list of augmentation layers as text, the `graft` command's
/// `--augmentation` and the model file's record of them:
///
///     flip:horizontal,rotation:0.1,zoom:0.2
///     rotation:-0.05..0.1:fill_mode=constant:fill_value=128,zoom:0.2:0.3
///
/// Layers are separated by commas, in order; each is a kind (`flip`,
/// `rotation`, `zoom`, `translation`, `crop`, `contrast`, `brightness`),
/// then its arguments after colons: positional ones in Keras's order
/// (flip: mode; rotation, contrast, brightness: factor; zoom, translation:
/// height_factor, width_factor; crop: height, width), or any argument by
/// Keras's name (`fill_mode=nearest`). A factor is a number or a pair
/// `low..high`, as is value_range. `none` is no layer, and a flip mode alone
/// (`horizontal`) is that RandomFlip: the older form.
public enum AugmentationSpec {
    public static func parse(_ text: String) throws -> [AugmentationLayer] {
        let trimmed = text.trimmingWhitespace
        if trimmed == "none" { return [] }
        if let mode = RandomFlip.Mode(rawValue: trimmed) { return [.flip(mode)] }
        let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= maxLayers else {
            throw GraftError.invalidArgument("at most \(maxLayers) augmentation layers, not \(parts.count)")
        }
        return try parts.map { try layer(String($0)) }
    }

    /// The most layers a list holds (as the C ABI's arrays).
    public static let maxLayers = 1024

    /// The text `parse` reads back as `layers` (arguments at Keras's
    /// defaults left out).
    public static func text(_ layers: [AugmentationLayer]) -> String {
        layers.isEmpty ? "none" : layers.map(\.specification).joined(separator: ",")
    }

    private static let kinds = ["flip", "rotation", "zoom", "translation", "crop", "contrast", "brightness"]

    private static func positionalNames(_ kind: String) -> [String] {
        switch kind {
        case "flip": ["mode"]
        case "zoom", "translation": ["height_factor", "width_factor"]
        case "crop": ["height", "width"]
        default: ["factor"]
        }
    }

    private static func layer(_ text: String) throws -> AugmentationLayer {
        let parts = text.trimmingWhitespace.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let kind = parts[0]
        guard kinds.contains(kind) else {
            throw GraftError.invalidArgument(
                "unknown augmentation layer \"\(kind)\" in \"\(text)\": the layers are \(kinds.joined(separator: ", "))")
        }
        var arguments: [String: String] = [:]
        let positional = positionalNames(kind)
        for (i, part) in parts.dropFirst().enumerated() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            let name = pair.count == 2 ? pair[0] : (i < positional.count ? positional[i] : "")
            guard !name.isEmpty else {
                throw GraftError.invalidArgument("\(kind) takes at most \(positional.count) unnamed arguments (\(positional.joined(separator: ", "))), not \"\(text)\"")
            }
            guard arguments[name] == nil else { throw GraftError.invalidArgument("\(kind) is given \(name) twice in \"\(text)\"") }
            arguments[name] = pair.last!
        }
        var reader = Arguments(kind: kind, values: arguments)
        let layer: AugmentationLayer
        switch kind {
        case "flip":
            let mode = try reader.take("mode").map { text in
                guard let mode = RandomFlip.Mode(rawValue: text) else {
                    throw GraftError.invalidArgument("flip's mode must be horizontal, vertical or horizontal_and_vertical, not \"\(text)\"")
                }
                return mode
            }
            layer = .flip(mode ?? .horizontalAndVertical)
        case "rotation":
            layer = .rotation(try RandomRotation(factor: try reader.factor("factor"), fillMode: try reader.fillMode(),
                                                 interpolation: try reader.interpolation(),
                                                 fillValue: try reader.number("fill_value") ?? 0))
        case "zoom":
            layer = .zoom(try RandomZoom(heightFactor: try reader.factor("height_factor"),
                                         widthFactor: try reader.optionalFactor("width_factor"),
                                         fillMode: try reader.fillMode(), interpolation: try reader.interpolation(),
                                         fillValue: try reader.number("fill_value") ?? 0))
        case "translation":
            layer = .translation(try RandomTranslation(heightFactor: try reader.factor("height_factor"),
                                                       widthFactor: try reader.factor("width_factor"),
                                                       fillMode: try reader.fillMode(),
                                                       interpolation: try reader.interpolation(),
                                                       fillValue: try reader.number("fill_value") ?? 0))
        case "crop":
            layer = .crop(try RandomCrop(height: try reader.integer("height"), width: try reader.integer("width")))
        case "contrast":
            layer = .contrast(try RandomContrast(factor: try reader.factor("factor"),
                                                 valueRange: try reader.valueRange()))
        default:
            layer = .brightness(try RandomBrightness(factor: try reader.factor("factor"),
                                                     valueRange: try reader.valueRange()))
        }
        if let unknown = reader.values.keys.sorted().first {
            throw GraftError.invalidArgument("\(kind) has no argument \"\(unknown)\" (in \"\(text)\")")
        }
        return layer
    }

    /// A layer's arguments by name, each taken once.
    private struct Arguments {
        let kind: String
        var values: [String: String]

        mutating func take(_ name: String) -> String? { values.removeValue(forKey: name) }

        mutating func number(_ name: String) throws -> Float? {
            try take(name).map { try Self.float($0, "\(kind)'s \(name)") }
        }

        mutating func integer(_ name: String) throws -> Int {
            guard let text = take(name) else { throw GraftError.invalidArgument("\(kind) needs its \(name)") }
            guard let value = Int(text) else { throw GraftError.invalidArgument("\(kind)'s \(name) must be a whole number, not \"\(text)\"") }
            return value
        }

        mutating func optionalFactor(_ name: String) throws -> KerasFactor? {
            guard let text = take(name) else { return nil }
            let bounds = text.split(separator: "..", omittingEmptySubsequences: false).map(String.init)
            switch bounds.count {
            case 1: return .number(try Self.float(text, "\(kind)'s \(name)"))
            case 2: return .pair(try Self.float(bounds[0], "\(kind)'s \(name)"), try Self.float(bounds[1], "\(kind)'s \(name)"))
            default: throw GraftError.invalidArgument("\(kind)'s \(name) must be a number or a pair low..high, not \"\(text)\"")
            }
        }

        mutating func factor(_ name: String) throws -> KerasFactor {
            guard let factor = try optionalFactor(name) else { throw GraftError.invalidArgument("\(kind) needs its \(name)") }
            return factor
        }

        mutating func valueRange() throws -> (Float, Float) {
            switch try optionalFactor("value_range") {
            case nil: return (0, 255)
            case .pair(let low, let high): return (low, high)
            case .number: throw GraftError.invalidArgument("\(kind)'s value_range must be a pair low..high")
            }
        }

        mutating func fillMode() throws -> FillMode {
            guard let text = take("fill_mode") else { return .reflect }
            guard let mode = FillMode(rawValue: text) else {
                throw GraftError.invalidArgument("fill_mode must be reflect, wrap, constant or nearest, not \"\(text)\"")
            }
            return mode
        }

        mutating func interpolation() throws -> SampleInterpolation {
            guard let text = take("interpolation") else { return .bilinear }
            guard let interpolation = SampleInterpolation(rawValue: text) else {
                throw GraftError.invalidArgument("interpolation must be bilinear or nearest, not \"\(text)\"")
            }
            return interpolation
        }

        private static func float(_ text: String, _ what: String) throws -> Float {
            guard let value = Float(text), value.isFinite else {
                throw GraftError.invalidArgument("\(what) must be a finite number, not \"\(text)\"")
            }
            return value
        }
    }
}

extension AugmentationLayer {
    /// Keras's class name (its summary's type, its weight file's group).
    public var kerasClassName: String {
        switch self {
        case .flip: "RandomFlip"
        case .rotation: "RandomRotation"
        case .zoom: "RandomZoom"
        case .translation: "RandomTranslation"
        case .crop: "RandomCrop"
        case .contrast: "RandomContrast"
        case .brightness: "RandomBrightness"
        }
    }

    /// Whether the layer's outcomes are finitely many (a flip's four), so
    /// that a cache can hold each.
    public var hasFiniteOutcomes: Bool {
        if case .flip = self { return true }
        return false
    }

    /// The layer in `AugmentationSpec`'s text.
    public var specification: String {
        func factor(_ f: KerasFactor) -> String {
            switch f {
            case .number(let v): "\(v)"
            case .pair(let a, let b): "\(a)..\(b)"
            }
        }
        func sampling(_ s: AffineSampler) -> [String] {
            var options: [String] = []
            if s.fillMode != .reflect { options.append("fill_mode=\(s.fillMode.rawValue)") }
            if s.interpolation != .bilinear { options.append("interpolation=\(s.interpolation.rawValue)") }
            if s.fillValue != 0 { options.append("fill_value=\(s.fillValue)") }
            return options
        }
        func range(_ r: (low: Float, high: Float)) -> [String] {
            r.low == 0 && r.high == 255 ? [] : ["value_range=\(r.low)..\(r.high)"]
        }
        let parts: [String]
        switch self {
        case .flip(let mode): parts = ["flip", mode.rawValue]
        case .rotation(let l): parts = ["rotation", factor(l.factor)] + sampling(l.sampler)
        case .zoom(let l):
            parts = ["zoom", factor(l.heightFactor)] + (l.widthFactor.map { [factor($0)] } ?? []) + sampling(l.sampler)
        case .translation(let l):
            parts = ["translation", factor(l.heightFactor), factor(l.widthFactor)] + sampling(l.sampler)
        case .crop(let l): parts = ["crop", "\(l.height)", "\(l.width)"]
        case .contrast(let l): parts = ["contrast", factor(l.factor)] + range(l.valueRange)
        case .brightness(let l): parts = ["brightness", factor(l.factor)] + range(l.valueRange)
        }
        return parts.joined(separator: ":")
    }
}

private extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
