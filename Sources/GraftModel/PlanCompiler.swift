import GraftFoundation
import GraftKernels

/// Compiles a network once for the way it will run: for inference
/// (`compileInference`: fused ops over numbered values, a value being one
/// materialised activation, for `InferencePlan`) or for training
/// (`compileTraining`: the forward and backward op lists of a
/// `TrainingStep`). Each layer kind's rules (what it fuses with, in each
/// mode, and the op it becomes) are in that kind's file in `Layers/`; the
/// lifetimes of both modes' buffers come from `lastReaders`.
struct PlanCompiler {
    let network: Network
    let precision: Precision
    /// int8: the activations' ranges its convolutions quantize by.
    let calibration: Calibration?
    /// The batch the plan runs at most (its geometry's batch when choosing
    /// kernels; a training plan's batch).
    let capacity: Int
    /// The value holding each layer's output, once computed.
    var valueOf: [Int: Int] = [:]
    /// ZeroPadding2D layers left to their consumers' windows.
    var deferredPads: [Int: Pads] = [:]
    /// Layers computed inside an earlier layer's op (a convolution's
    /// epilogue): they get no op of their own.
    var absorbed = Set<Int>()
    private var valueSizes: [Int: Int] = [:]
    private var ops: [CompiledOp] = []

    /// Training: the earliest layer with trainable weights, the layer whose
    /// output a step is given (cached features of a frozen prefix), and the
    /// fusions decided so far (see `TrainingPlan`).
    var start = 0
    var resumeAfter: Int?
    var fusedReLU = Set<Int>()
    var normalizedByAdd = Set<Int>()
    var handsBackScale = Set<Int>()

    struct Result {
        let ops: [CompiledOp]
        let valueSizes: [Int: Int]
        let inputValue: Int
        let outputValue: Int
    }

    /// An op whose buffers are still value numbers.
    struct CompiledOp {
        let template: InferencePlan.Op
        let reads: [Int]
        let writes: Int
        /// The first of the layers the op computes, and the one whose
        /// output it writes.
        let firstLayer: Int
        let outputLayer: Int
        /// Rebuilds `template` with the buffers of `reads` and `writes`.
        let build: (_ reads: [InferencePlan.Buffer], _ writes: InferencePlan.Buffer) -> InferencePlan.Op

        func resolve(_ buffer: (Int) -> InferencePlan.Buffer) -> InferencePlan.Op {
            build(reads.map(buffer), buffer(writes))
        }
    }

    init(network: Network, capacity: Int, precision: Precision = .float32, calibration: Calibration? = nil) {
        self.network = network
        self.capacity = capacity
        self.precision = precision
        self.calibration = calibration
    }

    private mutating func newValue(for layer: Int) -> Int {
        let v = valueSizes.count
        valueSizes[v] = network.layers[layer].outputShape.reduce(1, *)
        valueOf[layer] = v
        return v
    }

    func shape(_ layer: Int) -> [Int] { network.layers[layer].outputShape }

    var consumers: [[Int]] { network.consumers }
    func soleConsumer(_ layer: Int) -> Int? { network.soleConsumer(layer) }

    /// The layer whose output a window op reads, skipping a deferred padding
    /// layer, and the padding to apply.
    func windowSource(_ layer: Int) -> (layer: Int, pads: Pads) {
        if let pads = deferredPads[layer] { return (network.layers[layer].inputs[0], pads) }
        return (layer, Pads())
    }

    mutating func compileInference() throws -> Result {
        let layers = network.layers
        let inputValue = newValue(for: 0)
        for i in 1..<layers.count where !absorbed.contains(i) {
            switch layers[i].kind {
            case .input: throw GraftError(.state, "layer \(layers[i].name): a second input layer is not supported")
            case .zeroPadding2D: compileZeroPadding(i)
            case .conv2D: compileConvolution(i)
            case .maxPooling2D: compileMaxPooling(i)
            case .batchNormalization: compileBatchNormalization(i)
            case .relu: compileReLU(i)
            case .add: compileAdd(i)
            case .globalAveragePooling2D: compileGlobalAveragePooling(i)
            case .flatten, .dropout: compileSameMemory(i)
            case .dense: compileDense(i)
            }
        }
        return Result(ops: ops, valueSizes: valueSizes, inputValue: inputValue,
                      outputValue: valueOf[layers.count - 1]!)
    }

    /// Appends an op that reads the outputs of `inputs` and produces the
    /// output of `layer`, computing the layers from `origin` (by default
    /// `layer` alone) on.
    mutating func emit(_ layer: Int, from origin: Int? = nil, reading inputs: [Int],
                               _ build: @escaping ([InferencePlan.Buffer], InferencePlan.Buffer) -> InferencePlan.Op) {
        let reads = inputs.map { valueOf[$0]! }
        let writes = newValue(for: layer)
        let placeholder = build(reads.map { _ in .input }, .input)
        ops.append(CompiledOp(template: placeholder, reads: reads, writes: writes, firstLayer: origin ?? layer,
                              outputLayer: layer, build: build))
    }
}

/// The index of the last op that reads each value, given what each op reads:
/// a value's buffer is free once that op has run.
func lastReaders(of reads: [[Int]]) -> [Int: Int] {
    var last: [Int: Int] = [:]
    for (op, values) in reads.enumerated() {
        for v in values { last[v] = op }
    }
    return last
}
