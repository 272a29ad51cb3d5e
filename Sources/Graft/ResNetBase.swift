import GraftModel

/// A ResNet convolutional base without its classifier, as Keras's
/// `ResNet50(include_top=False, weights=..., input_shape=(h, w, 3))`, with
/// Keras's `preprocess_input` ("caffe") inside.
public final class ResNetBase {
    /// The depths Keras ships.
    public enum Architecture: String, CaseIterable, Sendable {
        case resnet50, resnet101, resnet152
    }

    /// Where the weights come from.
    public enum Weights: Equatable, Sendable {
        /// Keras's ImageNet file (`..._weights_tf_dim_ordering_tf_kernels_notop.h5`),
        /// found in `$GRAFT_WEIGHTS_DIR` or Keras's cache; Graft never downloads.
        case imagenet
        /// Keras's random initialisation, seeded.
        case random
        /// A Keras weight file at this path.
        case file(String)
    }

    let core: Model

    /// Builds the base and loads its weights. `threads` 0 uses every core.
    public init(_ architecture: Architecture = .resnet50, weights: Weights = .imagenet,
                inputSize: ImageSize = ImageSize(224), threads: Int = 0, seed: UInt64 = 0) throws {
        var options = ModelOptions()
        options.architecture = ResNetArchitecture(rawValue: architecture.rawValue)!
        switch weights {
        case .imagenet: options.weights = .imagenet
        case .random: options.weights = .random
        case .file(let path): options.weights = .file(path)
        }
        (options.inputHeight, options.inputWidth) = (inputSize.height, inputSize.width)
        (options.threads, options.seed) = (threads, seed)
        core = try Model(options)
    }

    /// How many layers the base has (Keras's `len(base.layers)`).
    public var layerCount: Int { core.base.layers.count }

    /// The shape of one image's features, (height, width, channels).
    public var featureShape: [Int] { core.featureShape }

    /// The base's output for RGB images with pixel values 0...255, NHWC,
    /// preprocessed inside: what Keras's `base(preprocess_input(x), training=False)` returns.
    public func features(images: [Float]) throws -> [Float] {
        let imageFloats = core.base.inputHeight * core.base.inputWidth * 3
        guard !images.isEmpty && images.count % imageFloats == 0 else {
            throw GraftError.invalidArgument("\(images.count) values are not whole images of "
                                             + "\(core.base.inputHeight)x\(core.base.inputWidth)x3")
        }
        let count = images.count / imageFloats
        var output = [Float](repeating: 0, count: count * featureShape.reduce(1, *))
        try output.withUnsafeMutableBufferPointer { output in
            try core.features(images: images, count: count, output: output.baseAddress!)
        }
        return output
    }
}
