import Glibc
import GraftFoundation
import GraftKernels

/// The new head put on the base.
public struct HeadOptions {
    public enum Pooling: String, CaseIterable { case avg, flatten }

    /// The output Dense's units: one per class, or 1 for Keras's binary
    /// classifier (one logit, BinaryCrossentropy(from_logits=True), on
    /// labels of two classes).
    public var numClasses: Int
    /// GlobalAveragePooling2D (Keras's `pooling="avg"`) or Flatten.
    public var pooling: Pooling = .avg
    /// Hidden Dense layers (with ReLU) between the pooling and the output.
    public var hiddenUnits: [Int] = []
    /// Dropout rate after each hidden layer (and after the pooling when there
    /// is none); 0 for no Dropout layer.
    public var dropout: Float = 0
    /// The output Dense's activation: none (logits, as the seed's
    /// from_logits loss takes them), or that of a Keras model read with
    /// softmax or sigmoid there (ResNet50's own top among them).
    public var outputActivation: OutputActivation = .linear

    /// Keras's name of the activation; `predict` applies it to the logits,
    /// as Keras's does, while the loss and metrics go on reading the logits
    /// beneath (the same figures as Keras's with from_logits=False, but
    /// for its clipping of probabilities at 1e-7).
    public enum OutputActivation: String, CaseIterable {
        case linear, softmax, sigmoid

        /// In place on `rows` rows of `units` logits.
        func apply(to values: UnsafeMutablePointer<Float>, rows: Int, units: Int) {
            switch self {
            case .linear:
                break
            case .sigmoid:
                for i in 0..<(rows * units) { values[i] = 1 / (1 + exp(-values[i])) }
            case .softmax:
                for row in 0..<rows {
                    let v = values + row * units
                    var largest = -Float.infinity
                    for j in 0..<units { largest = max(largest, v[j]) }
                    var sum: Float = 0
                    for j in 0..<units { v[j] = exp(v[j] - largest); sum += v[j] }
                    for j in 0..<units { v[j] /= sum }
                }
            }
        }
    }

    public init(numClasses: Int) { self.numClasses = numClasses }

    /// Whether the head is the binary classifier: one logit.
    public var isBinary: Bool { numClasses == 1 }
    /// The classes its labels take: 2 for the binary head, else one per logit.
    public var labelClasses: Int { isBinary ? 2 : numClasses }

    /// The probability of each of the `labelClasses` classes from one
    /// image's logits: their softmax, or for the binary head the sigmoid of
    /// its logit as class 1's (and its complement as class 0's).
    public func probabilities(logits: [Float]) -> [Double] {
        if isBinary {
            let one = 1 / (1 + exp(-Double(logits[0])))
            return [1 - one, one]
        }
        let largest = logits.max() ?? 0
        let exps = logits.map { exp(Double($0 - largest)) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }

    /// The features the head's first Dense reads from `base`'s output.
    func inputs(from base: Network) -> Int {
        pooling == .avg ? base.outputShape.last! : base.outputShape.reduce(1, *)
    }

    /// The head's weights (kernels and biases) on `inputs` features, or nil
    /// when they are more than memory can address.
    func parameterCount(inputs: Int) -> Int? {
        var total = 0, width = inputs
        for units in hiddenUnits + [numClasses] {
            let (kernel, o1) = width.multipliedReportingOverflow(by: units)
            let (layer, o2) = kernel.addingReportingOverflow(units)
            let (sum, o3) = total.addingReportingOverflow(layer)
            guard !o1, !o2, !o3, sum <= Int.max / MemoryLayout<Float>.stride else { return nil }
            (total, width) = (sum, units)
        }
        return total
    }

    /// Refuses a head whose sizes a file declares (a saved model's) when
    /// its weights are more than the file's bytes could hold: Graft never
    /// compresses weights, so such a file is corrupt or hostile, and nothing
    /// is allocated for it.
    func requireFits(on base: Network, file path: String) throws {
        let fileBytes = regularFileSize(path) ?? 0
        guard let weights = parameterCount(inputs: inputs(from: base)), weights <= fileBytes / MemoryLayout<Float>.stride else {
            throw GraftError.format("\(path) declares a head of hidden layers \(hiddenUnits) and \(numClasses) classes, more weights than the file's \(fileBytes) bytes hold (the file is corrupt)")
        }
    }

    /// Refuses options no head can be built from.
    func validate() throws {
        guard numClasses >= 1 else {
            throw GraftError.invalidArgument("num_classes must be at least 1, not \(numClasses)")
        }
        guard hiddenUnits.allSatisfy({ $0 >= 1 }) else {
            throw GraftError.invalidArgument("hidden layer sizes must be at least 1: \(hiddenUnits)")
        }
        guard dropout >= 0 && dropout < 1 else {
            throw GraftError.invalidArgument("dropout must be in [0, 1), not \(dropout)")
        }
        // The loss beneath: softmax cross-entropy over several logits, sigmoid over one.
        guard outputActivation != .softmax || numClasses >= 2, outputActivation != .sigmoid || numClasses == 1 else {
            throw GraftError.invalidArgument(
                "an output Dense of \(numClasses) units with \(outputActivation.rawValue): Graft takes softmax over 2 or more units and sigmoid over 1")
        }
    }
}

extension Network {
    /// `base`'s layers (shared, not copied) followed by the head, named as
    /// Keras names the layers of a functional model built the same way
    /// (`global_average_pooling2d`, `dense`, `dense_1`, `dropout`, ...); the
    /// head's Dense kernels are drawn from `seed` as Keras's GlorotUniform.
    static func withHead(_ head: HeadOptions, on base: Network, seed: UInt64) throws -> Network {
        try head.validate()
        guard head.parameterCount(inputs: head.inputs(from: base)) != nil else {
            throw GraftError(.outOfMemory, "a head of hidden layers \(head.hiddenUnits) and \(head.numClasses) classes has more weights than memory can hold")
        }
        var builder = NetworkBuilder(inputHeight: base.inputHeight, inputWidth: base.inputWidth,
                                     seed: seed ^ SeedSalt.head)
        builder.layers = base.layers
        var x = builder.layers.count - 1
        x = head.pooling == .avg ? builder.globalAveragePooling(x, name: "global_average_pooling2d")
                                 : builder.flatten(x, name: "flatten")
        var denseCount = 0, dropoutCount = 0
        func suffix(_ n: Int) -> String { n == 0 ? "" : "_\(n)" }
        func addDropout() {
            guard head.dropout > 0 else { return }
            x = builder.dropout(x, rate: head.dropout, name: "dropout" + suffix(dropoutCount))
            dropoutCount += 1
        }
        for units in head.hiddenUnits {
            x = builder.dense(x, units: units, name: "dense" + suffix(denseCount))
            x = builder.relu(x, name: "dense" + suffix(denseCount) + "_relu")
            denseCount += 1
            addDropout()
        }
        if head.hiddenUnits.isEmpty { addDropout() }
        _ = builder.dense(x, units: head.numClasses, name: "dense" + suffix(denseCount))
        return builder.build()
    }
}
