import GraftFoundation

/// A factor argument of Keras's augmentation layers as the caller gave it:
/// one number or a pair (a range).
public enum KerasFactor: Equatable, Sendable {
    case number(Float)
    case pair(Float, Float)

    /// As Keras prints it in its messages and configs.
    public var description: String {
        switch self {
        case .number(let f): "\(f)"
        case .pair(let a, let b): "(\(a), \(b))"
        }
    }

    var values: [Float] {
        switch self {
        case .number(let f): [f]
        case .pair(let a, let b): [a, b]
        }
    }
}

/// A range a value is drawn from, uniformly in [lower, upper) as Keras's
/// `keras.random.uniform` draws it in float32 (exactly `lower` when the
/// two are equal, which is how a test fixes a draw).
public struct DrawRange: Equatable, Sendable {
    public var lower: Float, upper: Float

    public init(_ lower: Float, _ upper: Float) { (self.lower, self.upper) = (lower, upper) }

    func draw(_ random: inout SplitMix64) -> Float {
        random.nextUnitFloat() * (upper - lower) + lower
    }

    /// The range of every value `transform` maps this one's to (monotone).
    func mapped(_ transform: (Float) -> Float) -> DrawRange { DrawRange(transform(lower), transform(upper)) }

    /// Keras's base rule for `factor` (BaseImagePreprocessingLayer._set_factor):
    /// a number f within `bounds` gives max(−|f|, lower bound)…|f|; a pair
    /// not wholly outside them is sorted.
    static func kerasFactor(_ factor: KerasFactor, bounds: (Float, Float), name: String = "factor") throws -> DrawRange {
        try requireFinite(factor, name: name)
        // Keras's bounds are integers, printed as such.
        let message = "The `\(name)` argument should be a number (or a list of two numbers) in the range "
            + "[\(Int(bounds.0)), \(Int(bounds.1))]. Received: \(name)=\(factor.description)"
        switch factor {
        case .number(let f):
            guard f >= bounds.0 && f <= bounds.1 else { throw GraftError.invalidArgument(message) }
            return DrawRange(max(-abs(f), bounds.0), abs(f))
        case .pair(let a, let b):
            guard a <= bounds.1 && b >= bounds.0 else { throw GraftError.invalidArgument(message) }
            return DrawRange(min(a, b), max(a, b))
        }
    }

    /// Keras's rule for RandomZoom's and RandomTranslation's factors: each
    /// number must be in `valid`; a number f gives −|f|…|f|, a pair is sorted.
    static func kerasHeightWidthFactor(_ factor: KerasFactor, name: String, range text: String,
                                       valid: (Float) -> Bool) throws -> DrawRange {
        try requireFinite(factor, name: name)
        for v in factor.values where !valid(v) {
            throw GraftError.invalidArgument(
                "The `\(name)` argument should be a number (or a list of two numbers) in the range \(text). Received: input_number=\(v)")
        }
        switch factor {
        case .number(let f): return DrawRange(-abs(f), abs(f))
        case .pair(let a, let b): return DrawRange(min(a, b), max(a, b))
        }
    }

    private static func requireFinite(_ factor: KerasFactor, name: String) throws {
        guard factor.values.allSatisfy(\.isFinite) else {
            throw GraftError.invalidArgument("`\(name)` must be finite, not \(factor.description)")
        }
    }
}
