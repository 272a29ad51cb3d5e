import GraftFoundation
import GraftKernels

/// The ResNet v1 family as `keras.applications` builds it, without the top:
/// the same layers, names, weights shapes and layer order.
public enum ResNetArchitecture: String, CaseIterable {
    case resnet50, resnet101, resnet152

    /// Residual blocks in stages conv2…conv5.
    var blocksPerStage: [Int] {
        switch self {
        case .resnet50: [3, 4, 6, 3]
        case .resnet101: [3, 4, 23, 3]
        case .resnet152: [3, 8, 36, 3]
        }
    }

    /// Keras's name for the model ("resnet50"...).
    public var kerasName: String { rawValue }

    /// The standard ImageNet weight file name for the base without its top.
    public var imagenetNotopFileName: String {
        "\(rawValue)_weights_tf_dim_ordering_tf_kernels_notop.h5"
    }

    /// Keras refuses inputs smaller than this on either side.
    public static let minimumInputSize = 32
    /// Graft's bound on either side, far above any use (one 16384x16384 image
    /// is 3 GB of floats), so that no size computation can overflow.
    public static let maximumInputSize = 16384
}

/// A network's layers in Keras's `model.layers` order, each reading only
/// layers before it.
public final class Network {
    public let layers: [Layer]
    public let inputHeight: Int, inputWidth: Int

    /// The layers that read each layer's output, in order: the graph both
    /// plan compilers (inference and training) decide their fusions on.
    public let consumers: [[Int]]

    init(layers: [Layer], inputHeight: Int, inputWidth: Int) {
        self.layers = layers
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        var consumers = [[Int]](repeating: [], count: layers.count)
        for (i, layer) in layers.enumerated() {
            for j in layer.inputs { consumers[j].append(i) }
        }
        self.consumers = consumers
    }

    /// The one layer reading layer i's output, when there is exactly one
    /// and layer i is not the network's output: what a fusion with the
    /// layer after needs.
    func soleConsumer(_ i: Int) -> Int? {
        guard i != layers.count - 1, consumers[i].count == 1 else { return nil }
        return consumers[i][0]
    }

    /// Index of the layer called `name`.
    public func index(of name: String) -> Int? {
        layers.firstIndex { $0.name == name }
    }

    public var outputShape: [Int] { layers.last!.outputShape }

    /// The layers up to and including `last`, as a network of their own
    /// (sharing the layers, so weights and flags stay one).
    convenience init(prefixOf network: Network, through last: Int) {
        self.init(layers: Array(network.layers[...last]), inputHeight: network.inputHeight,
                  inputWidth: network.inputWidth)
    }

    /// The layers after `last`, reading `last`'s output as their input (an
    /// input layer of its shape): every one of them must read only `last`
    /// and later layers. The layers share the network's weights.
    convenience init(suffixOf network: Network, after last: Int) {
        let source = network.layers[last]
        let input = Layer(name: source.name, kind: .input, inputs: [], outputShape: source.outputShape)
        let rest = network.layers[(last + 1)...].map { layer in
            precondition(layer.inputs.allSatisfy { $0 >= last }, "\(layer.name) reads before \(source.name)")
            return Layer(name: layer.name, kind: layer.kind, inputs: layer.inputs.map { $0 - last },
                         outputShape: layer.outputShape, weights: layer.weights)
        }
        self.init(layers: [input] + rest, inputHeight: network.inputHeight, inputWidth: network.inputWidth)
    }

    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
}

extension Network {
    /// Builds the base of `architecture` for images of height × width × 3,
    /// weights initialised as Keras initialises them (glorot-uniform kernels
    /// from `seed`, zero biases, BatchNormalization gamma 1, beta 0, moving
    /// mean 0, moving variance 1).
    public static func resnet(_ architecture: ResNetArchitecture, inputHeight: Int, inputWidth: Int,
                              seed: UInt64) throws -> Network {
        let minimum = ResNetArchitecture.minimumInputSize, maximum = ResNetArchitecture.maximumInputSize
        guard inputHeight >= minimum && inputWidth >= minimum else {
            throw GraftError.invalidArgument(
                "input size \(inputHeight)x\(inputWidth) is too small: \(architecture.kerasName) needs at least \(minimum)x\(minimum)")
        }
        guard inputHeight <= maximum && inputWidth <= maximum else {
            throw GraftError.invalidArgument(
                "input size \(inputHeight)x\(inputWidth) is too large: Graft takes at most \(maximum) on either side")
        }
        var builder = NetworkBuilder(inputHeight: inputHeight, inputWidth: inputWidth, seed: seed)
        var x = builder.input()
        x = builder.zeroPadding(x, 3, name: "conv1_pad")
        x = builder.conv(x, filters: 64, kernel: 7, stride: 2, padding: .valid, name: "conv1_conv")
        x = builder.batchNorm(x, name: "conv1_bn")
        x = builder.relu(x, name: "conv1_relu")
        x = builder.zeroPadding(x, 1, name: "pool1_pad")
        x = builder.maxPool(x, pool: 3, stride: 2, name: "pool1_pool")
        for (stage, blocks) in architecture.blocksPerStage.enumerated() {
            let filters = 64 << stage
            for block in 1...blocks {
                x = builder.residualBlock(x, filters: filters,
                                          stride: block == 1 && stage > 0 ? 2 : 1,
                                          convShortcut: block == 1,
                                          name: "conv\(stage + 2)_block\(block)")
            }
        }
        return builder.build()
    }
}

/// Builds a network layer by layer, with Keras's layer classes, working out
/// output shapes and Keras's initial weights (from the seed). A layer handle
/// is the layer's index in the list.
public struct NetworkBuilder {
    var layers: [Layer] = []
    let inputHeight: Int, inputWidth: Int
    var random: SplitMix64

    public init(inputHeight: Int, inputWidth: Int, seed: UInt64) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.random = SplitMix64(seed: seed)
    }

    private mutating func append(_ name: String, _ kind: LayerKind, _ inputs: [Int], _ shape: [Int],
                                 _ weights: [Tensor] = []) -> Int {
        layers.append(Layer(name: name, kind: kind, inputs: inputs, outputShape: shape, weights: weights))
        return layers.count - 1
    }

    private func shape(_ x: Int) -> [Int] { layers[x].outputShape }

    /// The network built so far.
    public func build() -> Network {
        Network(layers: layers, inputHeight: inputHeight, inputWidth: inputWidth)
    }

    public mutating func input() -> Int {
        append("input_layer", .input, [], [inputHeight, inputWidth, 3])
    }

    public mutating func zeroPadding(_ x: Int, _ p: Int, name: String) -> Int {
        let s = shape(x)
        return append(name, .zeroPadding2D(top: p, bottom: p, left: p, right: p), [x],
                      [s[0] + 2 * p, s[1] + 2 * p, s[2]])
    }

    public mutating func conv(_ x: Int, filters: Int, kernel: Int, stride: Int, padding: LayerKind.Padding,
                       name: String) -> Int {
        let s = shape(x)
        let (h, w) = padding == .same
            ? ((s[0] + stride - 1) / stride, (s[1] + stride - 1) / stride)
            : ((s[0] - kernel) / stride + 1, (s[1] - kernel) / stride + 1)
        let kernelTensor = Tensor(shape: [kernel, kernel, s[2], filters])
        random.fillGlorotUniform(kernelTensor, fanIn: kernel * kernel * s[2], fanOut: kernel * kernel * filters)
        return append(name, .conv2D(filters: filters, kernel: (kernel, kernel), strides: (stride, stride),
                                    padding: padding),
                      [x], [h, w, filters], [kernelTensor, Tensor(shape: [filters])])
    }

    public mutating func batchNorm(_ x: Int, name: String) -> Int {
        let c = shape(x)[2]
        let ones = Tensor(shape: [c], values: Array(repeating: 1, count: c))
        return append(name, .batchNormalization(epsilon: 1.001e-5), [x], shape(x),
                      [ones, Tensor(shape: [c]), Tensor(shape: [c]), ones.copy()])
    }

    public mutating func relu(_ x: Int, name: String) -> Int {
        append(name, .relu, [x], shape(x))
    }

    public mutating func maxPool(_ x: Int, pool: Int, stride: Int, name: String) -> Int {
        let s = shape(x)
        return append(name, .maxPooling2D(pool: (pool, pool), strides: (stride, stride)), [x],
                      [(s[0] - pool) / stride + 1, (s[1] - pool) / stride + 1, s[2]])
    }

    public mutating func add(_ a: Int, _ b: Int, name: String) -> Int {
        append(name, .add, [a, b], shape(a))
    }

    public mutating func globalAveragePooling(_ x: Int, name: String) -> Int {
        append(name, .globalAveragePooling2D, [x], [shape(x)[2]])
    }

    public mutating func flatten(_ x: Int, name: String) -> Int {
        append(name, .flatten, [x], [shape(x).reduce(1, *)])
    }

    /// Keras's Dense: glorot-uniform kernel, zero bias.
    public mutating func dense(_ x: Int, units: Int, name: String) -> Int {
        let inputs = shape(x)[0]
        let kernel = Tensor(shape: [inputs, units])
        random.fillGlorotUniform(kernel, fanIn: inputs, fanOut: units)
        return append(name, .dense(units: units), [x], [units], [kernel, Tensor(shape: [units])])
    }

    public mutating func dropout(_ x: Int, rate: Float, name: String) -> Int {
        append(name, .dropout(rate: rate), [x], shape(x))
    }

    /// A bottleneck block of ResNet v1. The layers are appended in Keras's
    /// graph-depth order, where the shortcut branch of a first block comes
    /// after `_2_relu`: 1_conv 1_bn 1_relu 2_conv 2_bn 2_relu [0_conv] 3_conv
    /// [0_bn] 3_bn add out.
    public mutating func residualBlock(_ x: Int, filters: Int, stride: Int, convShortcut: Bool,
                                name: String) -> Int {
        var y = conv(x, filters: filters, kernel: 1, stride: stride, padding: .valid, name: name + "_1_conv")
        y = batchNorm(y, name: name + "_1_bn")
        y = relu(y, name: name + "_1_relu")
        y = conv(y, filters: filters, kernel: 3, stride: 1, padding: .same, name: name + "_2_conv")
        y = batchNorm(y, name: name + "_2_bn")
        y = relu(y, name: name + "_2_relu")
        var shortcut = x
        if convShortcut {
            shortcut = conv(x, filters: 4 * filters, kernel: 1, stride: stride, padding: .valid,
                            name: name + "_0_conv")
        }
        y = conv(y, filters: 4 * filters, kernel: 1, stride: 1, padding: .valid, name: name + "_3_conv")
        if convShortcut {
            shortcut = batchNorm(shortcut, name: name + "_0_bn")
        }
        y = batchNorm(y, name: name + "_3_bn")
        y = add(shortcut, y, name: name + "_add")
        return relu(y, name: name + "_out")
    }
}
