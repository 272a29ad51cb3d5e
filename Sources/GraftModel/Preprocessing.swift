import GraftKernels

/// How pixels (RGB, 0…255) become the base's input, inside the model.
public enum Preprocessing: String, CaseIterable {
    /// keras.applications.resnet.preprocess_input: RGB to BGR, minus the
    /// ImageNet channel means (B 103.939, G 116.779, R 123.68), no scaling.
    case caffe
    /// x / 255.
    case rescale
    /// Pixels pass unchanged.
    case none

    static let caffeMeansBGR: (Float, Float, Float) = (103.939, 116.779, 123.68)
    /// `rescale`'s factor, Keras's Rescaling(scale=1/255).
    static let rescaleScale: Double = 1.0 / 255

    /// Applies the preprocessing to `pixels` NHWC RGB values (count images ×
    /// height × width), writing to `output` (which may be `input`).
    public func apply(input: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>) {
        switch self {
        case .caffe:
            let (mb, mg, mr) = Preprocessing.caffeMeansBGR
            for p in 0..<pixels {
                let r = input[3 * p], g = input[3 * p + 1], b = input[3 * p + 2]
                output[3 * p] = b - mb
                output[3 * p + 1] = g - mg
                output[3 * p + 2] = r - mr
            }
        case .rescale:
            for i in 0..<(3 * pixels) { output[i] = input[i] * Float(Preprocessing.rescaleScale) }
        case .none:
            if UnsafePointer(output) != input { output.update(from: input, count: 3 * pixels) }
        }
    }
}
