import CGraftSampler

/// How a geometric augmentation fills the pixels it samples from outside
/// the image: Keras's `fill_mode`.
public enum FillMode: String, CaseIterable, Sendable {
    /// (d c b a | a b c d | d c b a): reflected about the edge.
    case reflect
    /// (a b c d | a b c d | a b c d): the image repeated.
    case wrap
    /// (k k k k | a b c d | k k k k): `fill_value`.
    case constant
    /// (a a a a | a b c d | d d d d): the edge pixel.
    case nearest
}

/// How a geometric augmentation reads between pixels: Keras's
/// `interpolation` of RandomRotation, RandomZoom and RandomTranslation.
public enum SampleInterpolation: String, CaseIterable, Sendable {
    case bilinear, nearest
}

/// An affine map from an output pixel to the input point it samples:
/// x_in = a0·x + a1·y + a2, y_in = b0·x + b1·y + b2, integer coordinates
/// at pixel centres (x the column, y the row).
public struct AffineTransform: Equatable, Sendable {
    public var a0: Float, a1: Float, a2: Float
    public var b0: Float, b1: Float, b2: Float

    public init(a0: Float, a1: Float, a2: Float, b0: Float, b1: Float, b2: Float) {
        (self.a0, self.a1, self.a2, self.b0, self.b1, self.b2) = (a0, a1, a2, b0, b1, b2)
    }
}

/// TensorFlow's `ImageProjectiveTransformV3` for affine transforms, which
/// Keras's geometric augmentation layers run on its TensorFlow backend:
/// each output pixel samples the input at the transform of its own
/// coordinates, the coordinate mapped into the image by the fill mode (in
/// TensorFlow's float32 arithmetic, its quirks included: `wrap` shifts by
/// whole widths but divides by the width less one, so shifts beyond about
/// twice the size do not wrap exactly), then read nearest (rounded half
/// away from zero) or bilinearly, a read outside the image giving
/// `fillValue`. In TensorFlow 2.21 a constant-mode sample up to a pixel
/// outside the image blends the edge with the fill value.
public struct AffineSampler: Equatable, Sendable {
    public var fillMode: FillMode
    public var interpolation: SampleInterpolation
    public var fillValue: Float

    public init(fillMode: FillMode, interpolation: SampleInterpolation, fillValue: Float) {
        (self.fillMode, self.interpolation, self.fillValue) = (fillMode, interpolation, fillValue)
    }

    /// Writes the transformed `input` (height × width × channels floats)
    /// into `output` (the same size; not `input`).
    public func apply(_ t: AffineTransform, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                      height: Int, width: Int, channels: Int) {
        let coefficients = [t.a0, t.a1, t.a2, t.b0, t.b1, t.b2]
        graft_affine_sample(input, output, Int64(height), Int64(width), Int64(channels), coefficients,
                            fillMode.samplerCode, interpolation == .bilinear ? 1 : 0, fillValue)
    }
}

extension FillMode {
    /// The C sampler's code for the mode.
    var samplerCode: Int32 {
        switch self {
        case .reflect: Int32(GRAFT_SAMPLER_REFLECT)
        case .wrap: Int32(GRAFT_SAMPLER_WRAP)
        case .constant: Int32(GRAFT_SAMPLER_CONSTANT)
        case .nearest: Int32(GRAFT_SAMPLER_NEAREST)
        }
    }
}
