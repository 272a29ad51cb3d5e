import GraftFoundation
import GraftKernels

/// Turns a network's layer list into fused operations over numbered values
/// (a value is one materialised activation).
struct PlanCompiler {
    let network: Network
    let precision: Precision
    /// The batch the plan runs at most (its geometry's batch when choosing
    /// kernels).
    let capacity: Int
    /// The value holding each layer's output, once computed.
    private var valueOf: [Int: Int] = [:]
    /// ZeroPadding2D layers left to their consumers' windows.
    private var deferredPads: [Int: Pads] = [:]
    private var valueSizes: [Int: Int] = [:]
    private var ops: [CompiledOp] = []

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
        /// The first of the layers the op computes.
        let firstLayer: Int
        /// Rebuilds `template` with the buffers of `reads` and `writes`.
        let build: (_ reads: [InferencePlan.Buffer], _ writes: InferencePlan.Buffer) -> InferencePlan.Op

        func resolve(_ buffer: (Int) -> InferencePlan.Buffer) -> InferencePlan.Op {
            build(reads.map(buffer), buffer(writes))
        }
    }

    init(network: Network, capacity: Int, precision: Precision) {
        self.network = network
        self.capacity = capacity
        self.precision = precision
    }

    private mutating func newValue(for layer: Int) -> Int {
        let v = valueSizes.count
        valueSizes[v] = network.layers[layer].outputShape.reduce(1, *)
        valueOf[layer] = v
        return v
    }

    private func shape(_ layer: Int) -> [Int] { network.layers[layer].outputShape }

    private var consumers: [[Int]] { network.consumers }
    private func soleConsumer(_ layer: Int) -> Int? { network.soleConsumer(layer) }

    /// The layer whose output a window op reads, skipping a deferred padding
    /// layer, and the padding to apply.
    private func windowSource(_ layer: Int) -> (layer: Int, pads: Pads) {
        if let pads = deferredPads[layer] { return (network.layers[layer].inputs[0], pads) }
        return (layer, Pads())
    }

    mutating func compile() throws -> Result {
        let layers = network.layers
        var absorbed = Set<Int>()
        let inputValue = newValue(for: 0)
        for i in 1..<layers.count where !absorbed.contains(i) {
            let layer = layers[i]
            switch layer.kind {
            case .input:
                throw GraftError(.state, "layer \(layer.name): a second input layer is not supported")

            case let .zeroPadding2D(top, bottom, left, right):
                let pads = Pads(top: top, bottom: bottom, left: left, right: right)
                let windowed = consumers[i].allSatisfy {
                    switch layers[$0].kind { case .conv2D, .maxPooling2D: true; default: false }
                }
                if windowed && !consumers[i].isEmpty && i != layers.count - 1 {
                    deferredPads[i] = pads
                    continue
                }
                let s = shape(layer.inputs[0])
                emit(i, reading: [layer.inputs[0]]) { r, w in
                    .zeroPad(height: s[0], width: s[1], channels: s[2], pads: pads, input: r[0], output: w)
                }

            case let .conv2D(filters, _, _, _):
                let (source, extra) = windowSource(layer.inputs[0])
                let g = layer.windowGeometry(input: shape(source), batch: 1, extra: extra)
                let k = layer.weights[0].copy(), b = layer.weights[1].copy()
                var last = i
                if let bn = soleConsumer(last), case let .batchNormalization(eps) = layers[bn].kind {
                    let w = layers[bn].weights
                    BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                                    movingVariance: w[3].data, channels: filters, epsilon: eps)
                        .fold(kernel: k.data, kernelCount: k.count, bias: b.data)
                    absorbed.insert(bn)
                    last = bn
                }
                var residualLayer: Int?
                if let a = soleConsumer(last), layers[a].kind == .add, layers[a].inputs.count == 2 {
                    let other = layers[a].inputs[0] == last ? layers[a].inputs[1] : layers[a].inputs[0]
                    if other != last && valueOf[other] != nil {
                        residualLayer = other
                        absorbed.insert(a)
                        last = a
                    }
                }
                var relu = false
                if let r = soleConsumer(last), layers[r].kind == .relu {
                    relu = true
                    absorbed.insert(r)
                    last = r
                }
                var full = g
                full.batch = capacity
                let product = InferencePlan.ConvProduct(kernel: k, geometry: full, precision: precision)
                let reads = [source] + (residualLayer.map { [$0] } ?? [])
                emit(last, from: i, reading: reads) { r, w in
                    .conv(geometry: g, product: product, bias: b, input: r[0],
                          residual: r.count > 1 ? r[1] : nil, relu: relu, output: w)
                }

            case .maxPooling2D:
                let (source, pads) = windowSource(layer.inputs[0])
                let g = layer.windowGeometry(input: shape(source), batch: 1, extra: pads)
                emit(i, reading: [source]) { r, w in .maxPool(geometry: g, input: r[0], output: w) }

            case let .batchNormalization(eps):
                let w = layer.weights
                let c = shape(i).last!
                let affine = BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                                             movingVariance: w[3].data, channels: c, epsilon: eps)
                let pixels = shape(i).reduce(1, *) / c
                emit(i, reading: [layer.inputs[0]]) { r, w in
                    .batchNorm(affine, pixels: pixels, input: r[0], output: w)
                }

            case .relu:
                let count = shape(i).reduce(1, *)
                emit(i, reading: [layer.inputs[0]]) { r, w in .relu(count: count, input: r[0], output: w) }

            case .add:
                let count = shape(i).reduce(1, *)
                emit(i, reading: layer.inputs) { r, w in .add(count: count, a: r[0], b: r[1], output: w) }

            case .globalAveragePooling2D:
                let s = shape(layer.inputs[0])
                emit(i, reading: [layer.inputs[0]]) { r, w in
                    .globalAveragePool(height: s[0], width: s[1], channels: s[2], input: r[0], output: w)
                }

            case .flatten, .dropout:
                // NHWC rows flattened are Keras's Flatten order, and Dropout
                // is the identity in inference: same memory.
                valueOf[i] = valueOf[layer.inputs[0]]

            case let .dense(units):
                let inputs = shape(layer.inputs[0]).reduce(1, *)
                let k = layer.weights[0].copy(), b = layer.weights[1].copy()
                emit(i, reading: [layer.inputs[0]]) { r, w in
                    .dense(kernel: k, bias: b, inputs: inputs, units: units, input: r[0], output: w)
                }
            }
        }
        return Result(ops: ops, valueSizes: valueSizes, inputValue: inputValue,
                      outputValue: valueOf[layers.count - 1]!)
    }

    /// Appends an op that reads the outputs of `inputs` and produces the
    /// output of `layer`, computing the layers from `origin` (by default
    /// `layer` alone) on.
    private mutating func emit(_ layer: Int, from origin: Int? = nil, reading inputs: [Int],
                               _ build: @escaping ([InferencePlan.Buffer], InferencePlan.Buffer) -> InferencePlan.Op) {
        let reads = inputs.map { valueOf[$0]! }
        let writes = newValue(for: layer)
        let placeholder = build(reads.map { _ in .input }, .input)
        ops.append(CompiledOp(template: placeholder, reads: reads, writes: writes, firstLayer: origin ?? layer,
                              build: build))
    }
}
