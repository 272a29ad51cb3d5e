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
        // One copy of the loops for RGB, compiled with its channel count a
        // constant, and one for any other.
        if channels == 3 {
            sample(t, input: input, output: output, height: height, width: width, channels: 3)
        } else {
            sample(t, input: input, output: output, height: height, width: width, channels: channels)
        }
    }

    @inline(__always)
    private func sample(_ t: AffineTransform, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                        height: Int, width: Int, channels: Int) {
        for oy in 0..<height {
            let y = Float(oy)
            for ox in 0..<width {
                let x = Float(ox)
                let xIn = map(t.a0 * x + t.a1 * y + t.a2, size: width)
                let yIn = map(t.b0 * x + t.b1 * y + t.b2, size: height)
                let out = output + (oy * width + ox) * channels
                switch interpolation {
                case .nearest:
                    let (row, column) = (roundedHalfAway(yIn), roundedHalfAway(xIn))
                    for c in 0..<channels {
                        out[c] = read(input, row, column, c, height: height, width: width, channels: channels)
                    }
                case .bilinear:
                    let (y0, x0) = (floored(yIn), floored(xIn))
                    let (y1, x1) = (y0 + 1, x0 + 1)
                    let (r0, r1, c0, c1) = (Int(y0), Int(y1), Int(x0), Int(x1))
                    if r0 >= 0 && r1 < height && c0 >= 0 && c1 < width {
                        // All four neighbours inside (most pixels): read
                        // them directly, the same arithmetic.
                        let topLeft = input + (r0 * width + c0) * channels, bottomLeft = topLeft + width * channels
                        let (wx0, wx1, wy0, wy1) = (x1 - xIn, xIn - x0, y1 - yIn, yIn - y0)
                        for c in 0..<channels {
                            let top = wx0 * topLeft[c] + wx1 * topLeft[channels + c]
                            let bottom = wx0 * bottomLeft[c] + wx1 * bottomLeft[channels + c]
                            out[c] = wy0 * top + wy1 * bottom
                        }
                        continue
                    }
                    for c in 0..<channels {
                        func at(_ r: Int, _ k: Int) -> Float {
                            read(input, r, k, c, height: height, width: width, channels: channels)
                        }
                        let top = (x1 - xIn) * at(r0, c0) + (xIn - x0) * at(r0, c1)
                        let bottom = (x1 - xIn) * at(r1, c0) + (xIn - x0) * at(r1, c1)
                        out[c] = (y1 - yIn) * top + (yIn - y0) * bottom
                    }
                }
            }
        }
    }

    // Coordinates stay within a few image sizes (the layers' factors are
    // bounded), far inside Int's and exact Float integers' range: truncating
    // through Int gives floor and round here without a libm call per pixel.

    /// ⌊v⌋.
    @inline(__always)
    private func floored(_ v: Float) -> Float {
        let t = Float(Int(v))
        return t > v ? t - 1 : t
    }

    /// v rounded half away from zero (C's round), as an index.
    @inline(__always)
    private func roundedHalfAway(_ v: Float) -> Int {
        let t = Int(v), fraction = v - Float(t)
        return fraction >= 0.5 ? t + 1 : fraction <= -0.5 ? t - 1 : t
    }

    /// The pixel (row, column), or `fillValue` outside the image.
    @inline(__always)
    private func read(_ input: UnsafePointer<Float>, _ row: Int, _ column: Int, _ c: Int,
                      height: Int, width: Int, channels: Int) -> Float {
        guard row >= 0 && row < height && column >= 0 && column < width else { return fillValue }
        return input[(row * width + column) * channels + c]
    }

    /// TensorFlow's MapCoordinate for the fill mode: a coordinate along an
    /// axis of `size` pixels, moved into [0, size − 1] (but for constant).
    func map(_ coordinate: Float, size: Int) -> Float {
        let n = Float(size)
        var c = coordinate
        switch fillMode {
        case .constant:
            return c
        case .nearest:
            return min(max(c, 0), n - 1)
        case .reflect:
            if c < 0 {
                if size <= 1 {
                    c = 0
                } else {
                    let period = 2 * n
                    if c < period { c = period * Float(Int(-c / period)) + c }
                    c = c < -n ? c + period : -c - 1
                }
            } else if c > n - 1 {
                if size <= 1 {
                    c = 0
                } else {
                    let period = 2 * n
                    c -= period * Float(Int(c / period))
                    if c >= n { c = period - c - 1 }
                }
            }
        case .wrap:
            if c < 0 {
                c = size <= 1 ? 0 : c + n * (Float(Int(-c / (n - 1))) + 1)
            } else if c > n - 1 {
                c = size <= 1 ? 0 : c - n * Float(Int(c / (n - 1)))
            }
        }
        return min(max(c, 0), n - 1)
    }
}
