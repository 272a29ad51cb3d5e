import GraftKernels

/// What a layer computes, with Keras's layer classes and arguments.
public enum LayerKind: Equatable {
    case input
    case zeroPadding2D(top: Int, bottom: Int, left: Int, right: Int)
    case conv2D(filters: Int, kernel: (h: Int, w: Int), strides: (h: Int, w: Int), padding: Padding)
    case batchNormalization(epsilon: Float)
    /// Keras's `Activation("relu")`.
    case relu
    case maxPooling2D(pool: (h: Int, w: Int), strides: (h: Int, w: Int))
    case add
    case globalAveragePooling2D
    case flatten
    case dense(units: Int)
    /// Keras's Dropout: in training, zeroes each value with probability
    /// `rate` and scales the rest by 1/(1 − rate); identity in inference.
    case dropout(rate: Float)

    public enum Padding: Equatable { case valid, same }

    /// Keras's class name, as `model.summary()` shows it.
    public var className: String {
        switch self {
        case .input: "InputLayer"
        case .zeroPadding2D: "ZeroPadding2D"
        case .conv2D: "Conv2D"
        case .batchNormalization: "BatchNormalization"
        case .relu: "Activation"
        case .maxPooling2D: "MaxPooling2D"
        case .add: "Add"
        case .globalAveragePooling2D: "GlobalAveragePooling2D"
        case .flatten: "Flatten"
        case .dense: "Dense"
        case .dropout: "Dropout"
        }
    }

    public static func == (a: LayerKind, b: LayerKind) -> Bool {
        switch (a, b) {
        case (.input, .input), (.relu, .relu), (.add, .add),
             (.globalAveragePooling2D, .globalAveragePooling2D), (.flatten, .flatten):
            return true
        case let (.zeroPadding2D(t1, b1, l1, r1), .zeroPadding2D(t2, b2, l2, r2)):
            return (t1, b1, l1, r1) == (t2, b2, l2, r2)
        case let (.conv2D(f1, k1, s1, p1), .conv2D(f2, k2, s2, p2)):
            return f1 == f2 && k1 == k2 && s1 == s2 && p1 == p2
        case let (.batchNormalization(e1), .batchNormalization(e2)):
            return e1 == e2
        case let (.maxPooling2D(p1, s1), .maxPooling2D(p2, s2)):
            return p1 == p2 && s1 == s2
        case let (.dense(u1), .dense(u2)):
            return u1 == u2
        case let (.dropout(r1), .dropout(r2)):
            return r1 == r2
        default:
            return false
        }
    }
}

/// One layer of a network: Keras's name, what it computes, which earlier
/// layers feed it, the shape of its output for one image, and its weights in
/// Keras's order and shapes (Conv2D: kernel (kh, kw, in, out), bias;
/// BatchNormalization: gamma, beta, moving_mean, moving_variance; Dense:
/// kernel (in, units), bias).
public final class Layer {
    public let name: String
    public let kind: LayerKind
    /// Indices, in the network's layer list, of the layers this one reads.
    public let inputs: [Int]
    /// Output shape of one image: (h, w, c) for images, (c) for vectors.
    public let outputShape: [Int]
    public internal(set) var weights: [Tensor]
    public var trainable = true

    init(name: String, kind: LayerKind, inputs: [Int], outputShape: [Int], weights: [Tensor] = []) {
        self.name = name
        self.kind = kind
        self.inputs = inputs
        self.outputShape = outputShape
        self.weights = weights
    }

    /// Keras's names for this layer's weights, in order.
    public var weightNames: [String] {
        switch kind {
        case .conv2D, .dense: ["kernel", "bias"]
        case .batchNormalization: ["gamma", "beta", "moving_mean", "moving_variance"]
        default: []
        }
    }

    /// The shapes `weights` must have.
    public var weightShapes: [[Int]] {
        weights.map(\.shape)
    }

    var isBatchNormalization: Bool {
        if case .batchNormalization = kind { return true }
        return false
    }

    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } }

    /// How many of `weights` (the first ones) train when the layer does:
    /// BatchNormalization's gamma and beta, never its moving statistics;
    /// every weight of the other kinds.
    public var trainedWeightCount: Int {
        if case .batchNormalization = kind { return min(2, weights.count) }
        return weights.count
    }

    /// The window geometry of a Conv2D or MaxPooling2D layer reading an input
    /// of shape (h, w, c), with `extra` zero padding around that input (a
    /// ZeroPadding2D folded into the window) on top of the layer's own.
    func windowGeometry(input s: [Int], batch: Int, extra: Pads = Pads()) -> ConvGeometry {
        var pads = extra
        let kernel: (h: Int, w: Int), strides: (h: Int, w: Int), outChannels: Int
        switch kind {
        case let .conv2D(filters, k, st, padding):
            (kernel, strides, outChannels) = (k, st, filters)
            if padding == .same {
                let ph = ConvGeometry.samePadding(size: s[0] + extra.top + extra.bottom, kernel: k.h, stride: st.h)
                let pw = ConvGeometry.samePadding(size: s[1] + extra.left + extra.right, kernel: k.w, stride: st.w)
                pads = pads + Pads(top: ph.before, bottom: ph.after, left: pw.before, right: pw.after)
            }
        case let .maxPooling2D(pool, st):
            (kernel, strides, outChannels) = (pool, st, s[2])
        default:
            preconditionFailure("\(name) has no window")
        }
        return ConvGeometry(batch: batch, inHeight: s[0], inWidth: s[1], inChannels: s[2],
                            kernelHeight: kernel.h, kernelWidth: kernel.w, outChannels: outChannels,
                            strideH: strides.h, strideW: strides.w,
                            padTop: pads.top, padBottom: pads.bottom, padLeft: pads.left, padRight: pads.right)
    }
}

/// Zero padding on the four sides of an image.
struct Pads: Equatable {
    var top = 0, bottom = 0, left = 0, right = 0

    static func + (a: Pads, b: Pads) -> Pads {
        Pads(top: a.top + b.top, bottom: a.bottom + b.bottom, left: a.left + b.left, right: a.right + b.right)
    }
}
