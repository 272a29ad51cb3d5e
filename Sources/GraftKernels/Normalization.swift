/// BatchNormalization in inference mode, as an affine map per channel:
/// y = gamma·(x − mean)/sqrt(variance + epsilon) + beta = x·scale + shift.
public struct BatchNormAffine {
    public let scale: [Float]
    public let shift: [Float]

    public init(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                movingMean: UnsafePointer<Float>, movingVariance: UnsafePointer<Float>,
                channels: Int, epsilon: Float) {
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            scale[c] = gamma[c] / (movingVariance[c] + epsilon).squareRoot()
            shift[c] = beta[c] - movingMean[c] * scale[c]
        }
        self.scale = scale
        self.shift = shift
    }

    /// y = x·scale + shift over `pixels` rows of `channels` values; with
    /// `relu`, max(y, 0) (the ReLU that follows, in the same pass).
    public func apply(input: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>,
                      relu: Bool = false) {
        let c = scale.count
        scale.withUnsafeBufferPointer { scale in
            shift.withUnsafeBufferPointer { shift in
                for p in 0..<pixels {
                    let src = input + p * c, dst = output + p * c
                    if relu {
                        for ch in 0..<c { dst[ch] = max(src[ch] * scale[ch] + shift[ch], 0) }
                    } else {
                        for ch in 0..<c { dst[ch] = src[ch] * scale[ch] + shift[ch] }
                    }
                }
            }
        }
    }

    /// Folds this normalisation into the convolution that feeds it: the HWIO
    /// `kernel` (… × channels) has each output channel scaled, and the bias
    /// becomes bias·scale + shift. The result computes conv → BN in one GEMM.
    public func fold(kernel: UnsafeMutablePointer<Float>, kernelCount: Int,
                     bias: UnsafeMutablePointer<Float>) {
        let c = scale.count
        for i in 0..<kernelCount { kernel[i] *= scale[i % c] }
        for ch in 0..<c { bias[ch] = bias[ch] * scale[ch] + shift[ch] }
    }
}
