import GraftFoundation

/// The augmentation layers as Keras 3's `get_config()` describes them: read
/// from a Keras model's configuration, written into one Graft saves.
extension AugmentationLayer {
    /// The layer's arguments as Keras's config members (without name,
    /// trainable and dtype, which the model's writer adds).
    public var kerasConfig: [JSON.Member] {
        func factor(_ f: KerasFactor) -> JSON {
            switch f {
            case .number(let v): .number(Double(v))
            case .pair(let a, let b): .array([.number(Double(a)), .number(Double(b))])
            }
        }
        func sampling(_ s: AffineSampler) -> [JSON.Member] {
            [JSON.Member("fill_mode", .string(s.fillMode.rawValue)), JSON.Member("interpolation", .string(s.interpolation.rawValue)),
             JSON.Member("fill_value", .number(Double(s.fillValue)))]
        }
        func range(_ r: (low: Float, high: Float)) -> JSON { .array([.number(Double(r.low)), .number(Double(r.high))]) }
        let members: [JSON.Member]
        switch self {
        case .flip(let mode): members = [JSON.Member("mode", .string(mode.rawValue))]
        case .rotation(let r): members = [JSON.Member("factor", factor(r.factor))] + sampling(r.sampler)
        case .zoom(let z):
            members = [JSON.Member("height_factor", factor(z.heightFactor)),
                       JSON.Member("width_factor", z.widthFactor.map(factor) ?? .null)] + sampling(z.sampler)
        case .translation(let t):
            members = [JSON.Member("height_factor", factor(t.heightFactor)),
                       JSON.Member("width_factor", factor(t.widthFactor))] + sampling(t.sampler)
        case .crop(let c): members = [JSON.Member("height", .integer(Int64(c.height))), JSON.Member("width", .integer(Int64(c.width)))]
        case .contrast(let c): members = [JSON.Member("factor", factor(c.factor)), JSON.Member("value_range", range(c.valueRange))]
        case .brightness(let b): members = [JSON.Member("factor", factor(b.factor)), JSON.Member("value_range", range(b.valueRange))]
        }
        return [JSON.Member("data_format", .string("channels_last")), JSON.Member("seed", .null)] + members
    }

    /// The layer a Keras config of class `className` describes, Keras's
    /// defaults for what it leaves out; nil for a class that is not an
    /// augmentation layer. Throws for arguments Graft cannot take (other
    /// data formats, malformed values) as Keras's constructor would.
    public static func fromKeras(className: String, config: JSON) throws -> AugmentationLayer? {
        let reader = KerasArguments(className: className, config: config)
        guard className.hasPrefix("Random") else { return nil }
        if let format = config["data_format"]?.stringValue, format != "channels_last" {
            throw reader.unsupported("data_format=\(format)")
        }
        func sampler() throws -> (FillMode, SampleInterpolation, Float) {
            (try reader.choice("fill_mode", default: FillMode.reflect), try reader.choice("interpolation", default: SampleInterpolation.bilinear),
             try reader.float("fill_value", default: 0))
        }
        switch className {
        case "RandomFlip":
            return .flip(try reader.choice("mode", default: RandomFlip.Mode.horizontalAndVertical))
        case "RandomRotation":
            let (fill, interpolation, value) = try sampler()
            return .rotation(try RandomRotation(factor: try reader.factor("factor"), fillMode: fill, interpolation: interpolation, fillValue: value))
        case "RandomZoom":
            let (fill, interpolation, value) = try sampler()
            return .zoom(try RandomZoom(heightFactor: try reader.factor("height_factor"), widthFactor: try reader.optionalFactor("width_factor"),
                                        fillMode: fill, interpolation: interpolation, fillValue: value))
        case "RandomTranslation":
            let (fill, interpolation, value) = try sampler()
            return .translation(try RandomTranslation(heightFactor: try reader.factor("height_factor"),
                                                      widthFactor: try reader.factor("width_factor"),
                                                      fillMode: fill, interpolation: interpolation, fillValue: value))
        case "RandomCrop":
            return .crop(try RandomCrop(height: try reader.integer("height"), width: try reader.integer("width")))
        case "RandomContrast":
            return .contrast(try RandomContrast(factor: try reader.factor("factor"), valueRange: try reader.valueRange()))
        case "RandomBrightness":
            return .brightness(try RandomBrightness(factor: try reader.factor("factor"), valueRange: try reader.valueRange()))
        default:
            return nil
        }
    }
}

/// Reads one Keras layer's config members, each error naming the layer.
public struct KerasArguments {
    public let className: String
    public let config: JSON

    public init(className: String, config: JSON) { (self.className, self.config) = (className, config) }

    var layerName: String { config["name"]?.stringValue ?? "?" }

    public func unsupported(_ what: String) -> GraftError {
        GraftError.format("layer \(layerName) (\(className)): Graft cannot build \(what)")
    }

    public func malformed(_ key: String) -> GraftError {
        GraftError.format("layer \(layerName) (\(className)): its config's \(key) is missing or malformed")
    }

    public func integer(_ key: String) throws -> Int {
        guard let value = config[key]?.integerValue else { throw malformed(key) }
        return value
    }

    public func float(_ key: String, default value: Float) throws -> Float {
        guard let member = config[key], !member.isNull else { return value }
        guard let number = member.doubleValue else { throw malformed(key) }
        return Float(number)
    }

    public func choice<T: RawRepresentable>(_ key: String, default value: T) throws -> T where T.RawValue == String {
        guard let member = config[key], !member.isNull else { return value }
        guard let text = member.stringValue else { throw malformed(key) }
        guard let choice = T(rawValue: text) else { throw unsupported("\(key)=\(text)") }
        return choice
    }

    func factor(_ key: String) throws -> KerasFactor {
        guard let factor = try optionalFactor(key) else { throw malformed(key) }
        return factor
    }

    func optionalFactor(_ key: String) throws -> KerasFactor? {
        guard let member = config[key], !member.isNull else { return nil }
        if let number = member.doubleValue { return .number(Float(number)) }
        guard let pair = member.arrayValue, pair.count == 2, let a = pair[0].doubleValue, let b = pair[1].doubleValue else {
            throw malformed(key)
        }
        return .pair(Float(a), Float(b))
    }

    func valueRange() throws -> (Float, Float) {
        guard let member = config["value_range"], !member.isNull else { return (0, 255) }
        guard let pair = member.arrayValue, pair.count == 2, let a = pair[0].doubleValue, let b = pair[1].doubleValue else {
            throw malformed("value_range")
        }
        return (Float(a), Float(b))
    }
}
