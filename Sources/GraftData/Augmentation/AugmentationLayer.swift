import GraftFoundation

/// One of Keras's image augmentation layers, with Keras 3's arguments,
/// defaults and argument checks; `AugmentationLayer+Apply.swift` applies it
/// to an image for a draw. Active while training only, as in Keras.
public enum AugmentationLayer: Equatable, Sendable {
    /// RandomFlip (mode), as `RandomFlip` draws it.
    case flip(RandomFlip.Mode)
    /// RandomRotation: an angle of factor × 360 degrees about the centre.
    case rotation(RandomRotation)
    /// RandomZoom: height and width scaled about the centre.
    case zoom(RandomZoom)
    /// RandomTranslation: shifted by a fraction of the height and width.
    case translation(RandomTranslation)
    /// RandomCrop: a height × width window (the output's size).
    case crop(RandomCrop)
    /// RandomContrast: (x − mean) · factor + mean, per channel, clipped.
    case contrast(RandomContrast)
    /// RandomBrightness: a delta added to every value, clipped.
    case brightness(RandomBrightness)

    /// The output size for an input of `height` × `width` while training.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        if case .crop(let crop) = self { return (crop.height, crop.width) }
        return (height, width)
    }
}

/// Keras's RandomRotation(factor, fill_mode="reflect",
/// interpolation="bilinear", fill_value=0.0).
public struct RandomRotation: Equatable, Sendable {
    public let factor: KerasFactor
    /// The angle's range, in fractions of a full turn.
    public let turns: DrawRange
    public let sampler: AffineSampler

    public init(factor: KerasFactor, fillMode: FillMode = .reflect, interpolation: SampleInterpolation = .bilinear,
                fillValue: Float = 0) throws {
        self.factor = factor
        turns = try DrawRange.kerasFactor(factor, bounds: (-1, 1))
        sampler = try AffineSampler.checked(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue)
    }
}

/// Keras's RandomZoom(height_factor, width_factor=None,
/// fill_mode="reflect", interpolation="bilinear", fill_value=0.0): a
/// positive factor zooms out (samples a larger area), a negative one in.
public struct RandomZoom: Equatable, Sendable {
    public let heightFactor: KerasFactor, widthFactor: KerasFactor?
    /// The zoom's ranges (1 + factor); without a width factor the width
    /// takes the height's draw, keeping the aspect ratio.
    public let heightZoom: DrawRange, widthZoom: DrawRange?
    public let sampler: AffineSampler

    public init(heightFactor: KerasFactor, widthFactor: KerasFactor? = nil, fillMode: FillMode = .reflect,
                interpolation: SampleInterpolation = .bilinear, fillValue: Float = 0) throws {
        func zoom(_ factor: KerasFactor, _ name: String) throws -> DrawRange {
            try DrawRange.kerasHeightWidthFactor(factor, name: name, range: "(-1.0, 1.0]") { $0 > -1 && $0 <= 1 }
                .mapped { 1 + $0 }
        }
        (self.heightFactor, self.widthFactor) = (heightFactor, widthFactor)
        heightZoom = try zoom(heightFactor, "height_factor")
        widthZoom = try widthFactor.map { try zoom($0, "width_factor") }
        sampler = try AffineSampler.checked(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue)
    }
}

/// Keras's RandomTranslation(height_factor, width_factor,
/// fill_mode="reflect", interpolation="bilinear", fill_value=0.0): shifts
/// of factor × height (down) and factor × width (right), not rounded.
public struct RandomTranslation: Equatable, Sendable {
    public let heightFactor: KerasFactor, widthFactor: KerasFactor
    public let heightShift: DrawRange, widthShift: DrawRange
    public let sampler: AffineSampler

    public init(heightFactor: KerasFactor, widthFactor: KerasFactor, fillMode: FillMode = .reflect,
                interpolation: SampleInterpolation = .bilinear, fillValue: Float = 0) throws {
        func shift(_ factor: KerasFactor, _ name: String) throws -> DrawRange {
            try DrawRange.kerasHeightWidthFactor(factor, name: name, range: "[-1.0, 1.0]") { $0 >= -1 && $0 <= 1 }
        }
        (self.heightFactor, self.widthFactor) = (heightFactor, widthFactor)
        heightShift = try shift(heightFactor, "height_factor")
        widthShift = try shift(widthFactor, "width_factor")
        sampler = try AffineSampler.checked(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue)
    }
}

/// Keras's RandomCrop(height, width): while training, a window at a random
/// position when the image is larger than it both ways, else the centred
/// window of the target's aspect ratio, stretched (bilinear) to the
/// target if the image is smaller. Each image draws its own position
/// (Keras draws one per batch).
public struct RandomCrop: Equatable, Sendable {
    public let height: Int, width: Int

    public init(height: Int, width: Int) throws {
        guard height >= 1 && width >= 1 else {
            throw GraftError.invalidArgument("RandomCrop's height and width must be at least 1, not \(height) and \(width)")
        }
        (self.height, self.width) = (height, width)
    }
}

/// Keras's RandomContrast(factor, value_range=(0, 255)): the contrast
/// factor is drawn from [1 − lower, 1 + upper) of the factor's range (a
/// number f gives 1…1 + f, as in Keras).
public struct RandomContrast: Equatable, Sendable {
    public let factor: KerasFactor
    public let contrast: DrawRange
    /// Clipped to, as Keras clips: not checked or sorted.
    public let valueRange: (low: Float, high: Float)

    public init(factor: KerasFactor, valueRange: (Float, Float) = (0, 255)) throws {
        self.factor = factor
        let range = try DrawRange.kerasFactor(factor, bounds: (0, 1))
        contrast = DrawRange(1 - range.lower, 1 + range.upper)
        self.valueRange = try finite(valueRange)
    }

    public static func == (a: RandomContrast, b: RandomContrast) -> Bool {
        a.factor == b.factor && a.valueRange == b.valueRange
    }
}

/// Keras's RandomBrightness(factor, value_range=(0, 255)): adds
/// factor × (value_range's width), drawn per image, then clips.
public struct RandomBrightness: Equatable, Sendable {
    public let factor: KerasFactor
    /// The drawn fraction of the value range's width that is added.
    public let fraction: DrawRange
    /// Sorted, as Keras sorts it.
    public let valueRange: (low: Float, high: Float)

    public init(factor: KerasFactor, valueRange: (Float, Float) = (0, 255)) throws {
        self.factor = factor
        let (a, b) = try finite(valueRange)
        self.valueRange = (min(a, b), max(a, b))
        fraction = try DrawRange.kerasFactor(factor, bounds: (-1, 1))
    }

    public static func == (a: RandomBrightness, b: RandomBrightness) -> Bool {
        a.factor == b.factor && a.valueRange == b.valueRange
    }
}

/// A value_range, refused unless both ends are finite.
private func finite(_ valueRange: (Float, Float)) throws -> (Float, Float) {
    guard valueRange.0.isFinite && valueRange.1.isFinite else {
        throw GraftError.invalidArgument("value_range must be finite, not \(valueRange)")
    }
    return valueRange
}

extension AffineSampler {
    /// A sampler, its fill value checked finite.
    static func checked(fillMode: FillMode, interpolation: SampleInterpolation, fillValue: Float) throws -> AffineSampler {
        guard fillValue.isFinite else { throw GraftError.invalidArgument("fill_value must be finite, not \(fillValue)") }
        return AffineSampler(fillMode: fillMode, interpolation: interpolation, fillValue: fillValue)
    }
}
