import CGraftElementwise

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
    /// `relu`, max(y, 0) (the ReLU that follows, in the same pass). With
    /// `streamed`, y goes to memory past the caches (`streamsOutput(floats:)`).
    public func apply(input: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>,
                      relu: Bool = false, streamed: Bool = false) {
        BatchNormAffine.withAffine(self) { scale, shift in
            graft_batchnorm_apply(pixels, self.scale.count, input, scale, shift, output, relu ? 1 : 0,
                                  streamed ? 1 : 0)
        }
    }

    /// Runs `body` with pointers to the scale and shift of `normalization`,
    /// or with two nils when there is none.
    static func withAffine(_ normalization: BatchNormAffine?,
                           _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void) {
        guard let normalization else { return body(nil, nil) }
        normalization.scale.withUnsafeBufferPointer { scale in
            normalization.shift.withUnsafeBufferPointer { shift in body(scale.baseAddress, shift.baseAddress) }
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
