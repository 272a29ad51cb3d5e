import Glibc
import GraftFoundation
import GraftKernels

/// One training step over a network, layer by layer, as Keras's
/// `GradientTape` with `model(x, training=False)` computes it:
/// BatchNormalization always uses its moving statistics (its gamma and beta
/// train when the layer does), Dropout drops in training only.
///
/// The forward pass keeps the activations that the backward pass needs, and
/// only from the earliest layer with trainable weights on: layers before it
/// are a frozen prefix that runs forward only, and the backward pass stops
/// there (no gradient work, no stored activations for the prefix).
final class TrainingStep {
    let network: Network
    let threads: Int
    /// Index of the earliest layer with trainable weights.
    let start: Int
    private var consumers: [[Int]]
    /// BatchNormalization and Add layers whose only reader is the ReLU right
    /// after them, by layer: the forward pass computes the ReLU in the same
    /// pass and keeps only its output (neither backward pass needs the other).
    private var fusedReLU: Set<Int> = []
    /// BatchNormalization layers whose only reader is an Add: the Add
    /// applies them as it reads their input, and their output is never
    /// stored (no backward pass reads it).
    private var normalizedByAdd: Set<Int> = []
    /// BatchNormalization layers that hand their output gradient dY back
    /// as it is to the convolution before them, with their scale per
    /// channel, rather than writing dY·scale: the convolution's backward
    /// pass scales by it at no cost (`Conv2D.backward`'s `outputScale`).
    /// Those with no ReLU after them (whose mask would have to be written),
    /// whose convolution is read by nothing else, needs a gradient and runs
    /// as im2col (not Winograd): in ResNet, the two before each block's Add.
    private var handsBackScale: Set<Int> = []
    /// Layers whose output some backward pass reads (`readsInput`,
    /// `readsOwnOutput`); the forward pass releases every other output once
    /// its readers have run.
    private var keptForBackward: [Bool] = []
    /// Where the step's buffers come from and go back to (kept across steps
    /// by the caller).
    let pool: TensorPool
    /// Scratch memory of the convolutions, forward and backward: one buffer
    /// of the largest size any of them needs, shared by all.
    private var workspace: Tensor?
    /// Where each layer's time goes, when set.
    var profile: LayerProfile?
    /// The Winograd tiling of every 3x3 convolution, or nil for each one's
    /// own (`Winograd3x3.tile(for:training:)`).
    let winogradTile: WinogradTile?

    init(network: Network, threads: Int, pool: TensorPool = TensorPool(), winogradTile: WinogradTile? = nil) throws {
        self.network = network
        self.threads = threads
        self.pool = pool
        self.winogradTile = winogradTile
        guard let start = network.layers.firstIndex(where: { $0.trainable && !$0.weights.isEmpty }) else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before training")
        }
        self.start = start
        consumers = Array(repeating: [], count: network.layers.count)
        for (i, layer) in network.layers.enumerated() {
            for j in layer.inputs { consumers[j].append(i) }
        }
        for (i, layer) in network.layers.enumerated() where consumers[i] == [i + 1] {
            let fusable = isBatchNorm(layer) || layer.kind == .add
            if fusable && network.layers[i + 1].kind == .relu { fusedReLU.insert(i) }
        }
        for (i, layer) in network.layers.enumerated() where isBatchNorm(layer) && consumers[i].count == 1 {
            if network.layers[consumers[i][0]].kind == .add { normalizedByAdd.insert(i) }
        }
        for (i, layer) in network.layers.enumerated() where isBatchNorm(layer) && !fusedReLU.contains(i) {
            let j = layer.inputs[0], source = network.layers[j]
            guard case .conv2D = source.kind, consumers[j] == [i], j >= start else { continue }
            let g = source.windowGeometry(input: network.layers[source.inputs[0]].outputShape, batch: 1)
            if !Winograd3x3.applies(to: g) { handsBackScale.insert(i) }
        }
        let consumers = consumers
        keptForBackward = network.layers.indices.map { j in
            j == network.layers.count - 1 || TrainingStep.readsOwnOutput(network.layers[j])
                || consumers[j].contains { TrainingStep.readsInput(network.layers[$0]) }
        }
    }

    /// Whether a layer's backward pass reads its input: convolution and Dense
    /// for their kernel gradients, BatchNormalization for gamma's, max
    /// pooling for where the maxima were.
    private static func readsInput(_ layer: Layer) -> Bool {
        switch layer.kind {
        case .conv2D, .batchNormalization, .maxPooling2D, .dense: return true
        default: return false
        }
    }

    /// Whether a layer's backward pass reads its own output: ReLU's mask
    /// (also when fused into the layer before it).
    private static func readsOwnOutput(_ layer: Layer) -> Bool { layer.kind == .relu }

    /// The outputs of the forward pass: every layer's activation that is kept.
    struct Activations {
        var values: [Tensor?]
        let batch: Int
        /// Dropout masks (already scaled by 1/(1 − rate)), by layer.
        var masks: [Int: Tensor] = [:]
        var logits: Tensor { values.last!! }
    }

    /// Runs the network on `batch` preprocessed images. Activations of the
    /// frozen prefix are released as soon as nothing needs them.
    ///
    /// With `resume`, the pass starts after layer `resume.layer`, whose
    /// output is given (features cached from a frozen prefix); every later
    /// layer must read only it or layers after it.
    func forward(_ input: UnsafePointer<Float>?, batch: Int, training: Bool, dropoutSeed: UInt64,
                 resume: (layer: Int, output: Tensor)? = nil) throws -> Activations {
        try checkMemory(batch: batch)
        let layers = network.layers
        var values = [Tensor?](repeating: nil, count: layers.count)
        var masks: [Int: Tensor] = [:]
        var first = 1
        if let resume {
            values[resume.layer] = resume.output
            first = resume.layer + 1
        } else {
            let inputTensor = pool.take([batch] + layers[0].outputShape)
            inputTensor.data.update(from: input!, count: inputTensor.count)
            values[0] = inputTensor
        }
        /// The layers whose stored outputs layer i reads: its inputs, with
        /// a BatchNormalization that an Add applies replaced by its input.
        func reads(_ i: Int) -> [Int] {
            layers[i].inputs.map { j in normalizedByAdd.contains(j) && values[j] == nil ? layers[j].inputs[0] : j }
        }
        var lastUse = [Int](repeating: -1, count: layers.count)
        for (i, c) in consumers.enumerated() { lastUse[i] = c.max() ?? -1 }
        for j in normalizedByAdd { lastUse[layers[j].inputs[0]] = max(lastUse[layers[j].inputs[0]], consumers[j][0]) }

        var i = first
        while i < layers.count {
            if normalizedByAdd.contains(i) {
                i += 1
                continue
            }
            let layer = layers[i]
            let x = values[reads(i)[0]]!
            let fused = fusedReLU.contains(i)
            let out = try profile.measure(layer.name, .forward) {
                try forwardLayer(layer, index: i, x: x, values: values, batch: batch, training: training,
                                 dropoutSeed: dropoutSeed, masks: &masks, relu: fused)
            }
            // With a fused ReLU the output is the ReLU's, and the layer's own
            // is never stored.
            let produced = fused ? i + 1 : i
            values[produced] = out
            // An activation is dropped once its last reader has run, unless a
            // backward pass reads it: in the frozen prefix none does (an
            // Add's inputs, for one, are never read again either).
            for j in reads(i) where lastUse[j] == i && (i < start || !keptForBackward[j]) {
                if let dead = values[j], j != resume?.layer { pool.give(dead) }
                values[j] = nil
            }
            i = produced + 1
        }
        return Activations(values: values, batch: batch, masks: masks)
    }

    /// Layer `i`'s output; with `relu`, that of the ReLU after it (`fusedReLU`).
    private func forwardLayer(_ layer: Layer, index i: Int, x: Tensor, values: [Tensor?], batch: Int,
                              training: Bool, dropoutSeed: UInt64, masks: inout [Int: Tensor],
                              relu fusedReLU: Bool) throws -> Tensor {
        let inShape = network.layers[layer.inputs[0]].outputShape
        let out = pool.take([batch] + layer.outputShape)
        switch layer.kind {
        case .input:
            throw GraftError(.state, "layer \(layer.name): a second input layer is not supported")
        case .conv2D:
            convolutionForward(layer, geometry: layer.windowGeometry(input: inShape, batch: batch), input: x,
                               output: out)
        case .batchNormalization(let eps):
            let bn = affine(layer, epsilon: eps), c = inShape.last!
            let streamed = streamsOutput(floats: out.count)
            Parallel.forRanges(x.count / c, threads: threads, grain: (1 << 14) / c) { pixels, _ in
                bn.apply(input: x.data + pixels.lowerBound * c, pixels: pixels.count,
                         output: out.data + pixels.lowerBound * c, relu: fusedReLU, streamed: streamed)
            }
        case .relu:
            Parallel.forRanges(x.count, threads: threads) { r, _ in
                relu(input: x.data + r.lowerBound, count: r.count, output: out.data + r.lowerBound)
            }
        case .add:
            // Each operand as stored, or the input of a BatchNormalization
            // this Add applies (`normalizedByAdd`), with its affine map.
            let operands = layer.inputs.map { j -> (Tensor, BatchNormAffine?) in
                let source = network.layers[j]
                if let stored = values[j] { return (stored, nil) }
                guard case let .batchNormalization(eps) = source.kind else { preconditionFailure("\(source.name) missing") }
                return (values[source.inputs[0]]!, affine(source, epsilon: eps))
            }
            let (a, aNormalization) = operands[0], (b, bNormalization) = operands[1], c = inShape.last!
            let streamed = streamsOutput(floats: out.count)
            Parallel.forRanges(a.count / c, threads: threads, grain: (1 << 14) / c) { pixels, _ in
                let at = pixels.lowerBound * c
                add(a.data + at, normalizedBy: aNormalization, b.data + at, normalizedBy: bNormalization,
                    pixels: pixels.count, channels: c, output: out.data + at, relu: fusedReLU, streamed: streamed)
            }
        case let .zeroPadding2D(top, bottom, left, right):
            zeroPad2D(input: x.data, batch: batch, height: inShape[0], width: inShape[1], channels: inShape[2],
                      top: top, bottom: bottom, left: left, right: right, output: out.data, threads: threads)
        case .maxPooling2D:
            maxPool2D(layer.windowGeometry(input: inShape, batch: batch), input: x.data, output: out.data,
                      threads: threads)
        case .globalAveragePooling2D:
            globalAveragePool(input: x.data, batch: batch, height: inShape[0], width: inShape[1],
                              channels: inShape[2], output: out.data)
        case .flatten:
            out.data.update(from: x.data, count: x.count)
        case let .dense(units):
            dense(input: x.data, batch: batch, inputs: inShape.reduce(1, *), kernel: layer.weights[0].data,
                  bias: layer.weights[1].data, units: units, output: out.data)
        case let .dropout(rate):
            guard training && rate > 0 else {
                out.data.update(from: x.data, count: x.count)
                break
            }
            let mask = pool.take(x.shape)
            var random = SplitMix64(seed: dropoutSeed ^ UInt64(i) &* SplitMix64.golden)
            let keep = 1 / (1 - rate)
            for k in 0..<x.count {
                mask.data[k] = random.nextUnitFloat() < rate ? 0 : keep
                out.data[k] = x.data[k] * mask.data[k]
            }
            masks[i] = mask
        }
        return out
    }

    /// The shared convolution scratch for a batch, taken from the pool once.
    private func scratch(batch: Int) -> Tensor {
        if let workspace { return workspace }
        var floats = 1
        for layer in network.layers {
            guard case .conv2D = layer.kind else { continue }
            let g = layer.windowGeometry(input: network.layers[layer.inputs[0]].outputShape, batch: batch)
            floats = max(floats, Conv2D.workspaceSize(g, threads: threads),
                         Conv2D.backwardWorkspaceSize(g, threads: threads),
                         Winograd3x3.applies(to: g) ? winogradWorkspaceSize(g) : 0)
        }
        let tensor = pool.take([floats])
        workspace = tensor
        return tensor
    }

    /// Scratch floats the Winograd passes of the 3x3 convolution `g` need.
    private func winogradWorkspaceSize(_ g: ConvGeometry) -> Int {
        let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
        return max(Winograd3x3.workspaceSize(g, threads: threads),
                   Winograd3x3.workspaceSize(g, threads: threads,
                                             tileBudget: Winograd3x3.kernelGradientBudget(g, tile: tile)))
    }

    /// A convolution's output, with its bias. A 3x3 one runs as Winograd
    /// (2.25–4x fewer multiplications), its kernel transformed afresh at
    /// every step.
    private func convolutionForward(_ layer: Layer, geometry g: ConvGeometry, input x: Tensor, output out: Tensor) {
        let kernel = layer.weights[0].data, epilogue = Epilogue(bias: layer.weights[1].data)
        guard Winograd3x3.applies(to: g) else {
            withPacked(kernel, rows: g.patchSize, columns: g.outChannels) { packed in
                Conv2D.forward(g, input: x.data, kernel: kernel, packed: packed, output: out.data, epilogue: epilogue,
                               workspace: scratch(batch: g.batch).data, threads: threads)
            }
            return
        }
        let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
        withWinogradTransform(kernel, inChannels: g.inChannels, outChannels: g.outChannels, tile: tile) { u, packed in
            Winograd3x3.forward(g, tile: tile, input: x.data, transformedKernel: u, packed: packed,
                                output: out.data, epilogue: epilogue, workspace: scratch(batch: g.batch).data,
                                threads: threads)
        }
    }

    /// Runs `body` with the Winograd transform of an HWIO 3x3 kernel in a
    /// buffer of the pool: straight into the panels of Graft's own GEMM
    /// (`packed`) where that applies, else U's plain matrices (`u`).
    private func withWinogradTransform(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                       tile: WinogradTile,
                                       _ body: (_ u: UnsafePointer<Float>, _ packed: [PackedKernel]?) -> Void) {
        let u = pool.take([tile.matrices, c, k])
        let packed = Winograd3x3.transformKernelPacked(kernel, inChannels: c, outChannels: k, tile: tile, into: u,
                                                       threads: threads)
        if packed == nil {
            Winograd3x3.transformKernel(kernel, inChannels: c, outChannels: k, tile: tile, into: u.data,
                                        threads: threads)
        }
        body(u.data, packed)
        pool.give(u)
    }

    /// Runs `body` with `matrix` packed for Graft's own GEMM in a buffer of
    /// the pool (see `PackedKernel.pack`), or with nil where it does not apply.
    private func withPacked(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            rowScale: UnsafePointer<Float>? = nil, _ body: (PackedKernel?) -> Void) {
        guard PackedKernel.applies(rows: rows, columns: columns) else { return body(nil) }
        let storage = pool.take([rows * columns])
        body(PackedKernel.pack(matrix, rows: rows, columns: columns, transposed: transposed, into: storage, at: 0,
                                threads: threads, rowScale: rowScale))
        pool.give(storage)
    }

    /// A tensor of zeros from the pool, cleared on every thread (weight
    /// gradients are as large as the weights: 94 MB for all of ResNet50).
    private func zeros(_ shape: [Int]) -> Tensor {
        let tensor = pool.take(shape)
        Parallel.forRanges(tensor.count, threads: threads) { r, _ in
            (tensor.data + r.lowerBound).update(repeating: 0, count: r.count)
        }
        return tensor
    }

    private func affine(_ layer: Layer, epsilon: Float) -> BatchNormAffine {
        let w = layer.weights
        return BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                               movingVariance: w[3].data, channels: w[0].count, epsilon: epsilon)
    }

    /// Gradients of the loss for every trainable weight, given the gradient
    /// of the logits. Returned in layer order as (weight, gradient) pairs.
    ///
    /// With `update`, each layer's pairs go to it as soon as that layer's
    /// backward pass is done, and its gradients then back to the pool; the
    /// result is empty. An optimizer can step a layer there: no later part
    /// of the pass reads that layer's weights, and the gradients of all the
    /// weights are never held at once.
    func backward(_ activations: Activations, dLogits: Tensor,
                  update: (([(weight: Tensor, gradient: Tensor)]) -> Void)? = nil)
        -> [(weight: Tensor, gradient: Tensor)] {
        let layers = network.layers
        let batch = activations.batch
        var grads = [Tensor?](repeating: nil, count: layers.count)
        grads[layers.count - 1] = dLogits
        var perLayer: [[(weight: Tensor, gradient: Tensor)]] = []
        /// BatchNormalization layers whose backward pass masks the gradient
        /// by the ReLU fused after them (`fusedReLU`).
        var maskedByNormalization: Set<Int> = []

        /// Gradients that an Add handed to more than one of its inputs, with
        /// the number of holders beyond the first: one buffer serves them
        /// all (no copy), read-only, and goes back to the pool with the last.
        var extraHolders: [ObjectIdentifier: Int] = [:]
        func isShared(_ g: Tensor) -> Bool { extraHolders[ObjectIdentifier(g)] != nil }
        /// A holder is done with `g`.
        func release(_ g: Tensor) {
            let key = ObjectIdentifier(g)
            if let extra = extraHolders[key] {
                extraHolders[key] = extra > 1 ? extra - 1 : nil
            } else {
                pool.give(g)
            }
        }
        /// ReLUs after an Add whose gradient came masked from `accumulate`.
        var masked: Set<Int> = []
        /// Adds `g`, from layer `reader`, into the gradient of layer j's
        /// output (a layer read by two others, as a residual block's input
        /// is, gets both). The sum goes into whichever of the two no other
        /// layer holds. If j is a ReLU after an Add and `reader` the last of
        /// its readers, the ReLU's mask is applied in the same pass.
        func accumulate(_ j: Int, _ g: Tensor, from reader: Int) {
            guard let existing = grads[j] else {
                grads[j] = g
                return
            }
            let sum = !isShared(existing) ? existing : !isShared(g) ? g : pool.take(g.shape)
            let a = existing.data, b = g.data, target = sum.data
            let reluAfterAdd = layers[j].kind == .relu && fusedReLU.contains(layers[j].inputs[0])
                && !isBatchNorm(layers[layers[j].inputs[0]])
            if reluAfterAdd && reader == consumers[j].min(), let y = activations.values[j] {
                Parallel.forRanges(g.count, threads: threads) { r, _ in
                    reluBackward(output: y.data + r.lowerBound, dOutput: a + r.lowerBound, plus: b + r.lowerBound,
                                 count: r.count, dInput: target + r.lowerBound)
                }
                masked.insert(j)
            } else {
                Parallel.forRanges(g.count, threads: threads) { r, _ in
                    for k in r { target[k] = a[k] + b[k] }
                }
            }
            if sum !== existing { release(existing) }
            if sum !== g { release(g) }
            grads[j] = sum
        }
        func needsGradient(_ j: Int) -> Bool { j >= start }
        /// Bias gradients of convolutions that only a trained
        /// BatchNormalization reads, from that layer's backward pass: the
        /// convolution's output gradient is dY·scale per channel, so its sum
        /// over the pixels is scale·Σ dY, scale times beta's gradient (no
        /// pass over the pixels of its own).
        var biasGradients: [Int: [Float]] = [:]
        /// The scales of the BatchNormalization layers in `handsBackScale`,
        /// by the convolution whose output gradient they handed back.
        var outputScales: [Int: [Float]] = [:]

        for i in stride(from: layers.count - 1, through: start, by: -1) {
            guard let dY = grads[i] else { continue }
            grads[i] = nil
            let layer = layers[i]
            let j = layer.inputs.first ?? 0
            let inShape = layers[j].outputShape
            let x = activations.values[j]
            let trains = layer.trainable && !layer.weights.isEmpty
            // BatchNormalization's moving statistics (weights 2 and 3) never train.
            let trained = !trains ? 0 : isBatchNorm(layer) ? min(2, layer.weights.count) : layer.weights.count
            // A convolution's backward pass writes its kernel's gradient
            // whole; the other gradients are summed into zeros.
            let writesKernelGradient: Bool
            if case .conv2D = layer.kind { writesKernelGradient = true } else { writesKernelGradient = false }
            let weightGrads = layer.weights.prefix(trained).enumerated().map { w, weight in
                writesKernelGradient && w == 0 ? pool.take(weight.shape) : zeros(weight.shape)
            }
            // A ReLU fused after BatchNormalization or Add hands its gradient
            // on to that layer rather than writing a new one.
            let fusedBackward = layer.kind == .relu && fusedReLU.contains(j)
            let handsBack = handsBackScale.contains(i)
            let dX = needsGradient(j) && layer.kind != .add && !fusedBackward && !handsBack
                ? pool.take([batch] + inShape) : nil
            // The Add layer hands dY itself on to one input, which then owns it.
            var dYPassedOn = false

            profile.measure(layer.name, .backward) {
                switch layer.kind {
                case .input:
                    break
                case .conv2D:
                    convolutionBackward(layer, geometry: layer.windowGeometry(input: inShape, batch: batch),
                                        input: x!, dOutput: dY, dInput: dX, weightGradients: weightGrads,
                                        biasGradient: biasGradients.removeValue(forKey: i),
                                        outputScale: outputScales.removeValue(forKey: i))
                case .batchNormalization(let eps):
                    let normalization = affine(layer, epsilon: eps)
                    let dBeta = weightGrads.count > 1 ? weightGrads[1].data : nil
                    normalization.backward(
                        input: x!.data, dOutput: dY.data, pixels: dY.count / inShape.last!,
                        gamma: layer.weights[0].data, movingMean: layer.weights[2].data, dInput: dX?.data,
                        dGamma: weightGrads.first?.data, dBeta: dBeta,
                        reluFollows: maskedByNormalization.remove(i) != nil, threads: threads)
                    let source = layers[j]
                    if let dBeta, case .conv2D = source.kind, source.trainable, source.weights.count > 1,
                       consumers[j] == [i] {
                        biasGradients[j] = normalization.scale.indices.map { normalization.scale[$0] * dBeta[$0] }
                    }
                    if handsBack {
                        outputScales[j] = normalization.scale
                        accumulate(j, dY, from: i)
                        dYPassedOn = true
                    }
                case .relu:
                    if fusedBackward && needsGradient(j) {
                        let y = activations.values[i]!
                        if isBatchNorm(layers[j]) {
                            // BatchNormalization masks the gradient in its own pass.
                            maskedByNormalization.insert(j)
                            grads[j] = dY
                        } else if masked.remove(i) != nil {
                            // Masked already, as its two terms were summed.
                            grads[j] = dY
                        } else {
                            // Before an Add, mask in place (into a new buffer if
                            // dY is shared): the Add passes it on as is.
                            let target = isShared(dY) ? pool.take(dY.shape) : dY
                            Parallel.forRanges(dY.count, threads: threads) { r, _ in
                                reluBackward(output: y.data + r.lowerBound, dOutput: dY.data + r.lowerBound,
                                             count: r.count, dInput: target.data + r.lowerBound)
                            }
                            if target !== dY { release(dY) }
                            grads[j] = target
                        }
                        dYPassedOn = true
                    } else if let dX {
                        let y = activations.values[i]!
                        Parallel.forRanges(dY.count, threads: threads) { r, _ in
                            reluBackward(output: y.data + r.lowerBound, dOutput: dY.data + r.lowerBound, count: r.count,
                                         dInput: dX.data + r.lowerBound)
                        }
                    }
                case .add:
                    // Every input's gradient is dY itself: they share it.
                    let receivers = layer.inputs.filter(needsGradient)
                    if receivers.count > 1 {
                        extraHolders[ObjectIdentifier(dY), default: 0] += receivers.count - 1
                    }
                    for input in receivers { accumulate(input, dY, from: i) }
                    dYPassedOn = !receivers.isEmpty
                case let .zeroPadding2D(top, _, left, _):
                    if let dX {
                        let out = layer.outputShape
                        zeroPad2DBackward(dOutput: dY.data, batch: batch, height: inShape[0], width: inShape[1],
                                          channels: inShape[2], top: top, left: left, outHeight: out[0],
                                          outWidth: out[1], dInput: dX.data, threads: threads)
                    }
                case .maxPooling2D:
                    if let dX {
                        maxPool2DBackward(layer.windowGeometry(input: inShape, batch: batch), input: x!.data,
                                          dOutput: dY.data, dInput: dX.data, threads: threads)
                    }
                case .globalAveragePooling2D:
                    if let dX {
                        globalAveragePoolBackward(dOutput: dY.data, batch: batch, height: inShape[0], width: inShape[1],
                                                  channels: inShape[2], dInput: dX.data)
                    }
                case .flatten:
                    dX?.data.update(from: dY.data, count: dY.count)
                case let .dense(units):
                    denseBackward(input: x!.data, batch: batch, inputs: inShape.reduce(1, *),
                                  kernel: layer.weights[0].data, units: units, dOutput: dY.data, dInput: dX?.data,
                                  dKernel: weightGrads.first?.data,
                                  dBias: weightGrads.count > 1 ? weightGrads[1].data : nil)
                case .dropout:
                    if let dX {
                        if let mask = activations.masks[i] {
                            for k in 0..<dY.count { dX.data[k] = dY.data[k] * mask.data[k] }
                        } else {
                            dX.data.update(from: dY.data, count: dY.count)
                        }
                    }
                }
            }
            // The sum with another reader's gradient, if any, counts as
            // this layer's backward pass.
            if let dX { profile.measure(layer.name, .backward) { accumulate(j, dX, from: i) } }
            // Layer i's output and its gradient are not read again.
            if !dYPassedOn { release(dY) }
            if i != network.layers.count - 1, let output = activations.values[i] { pool.give(output) }
            if let mask = activations.masks[i] { pool.give(mask) }
            let pairs = weightGrads.indices.map { (weight: layer.weights[$0], gradient: weightGrads[$0]) }
            if let update {
                profile.measure(layer.name, .optimizer) { update(pairs) }
                for gradient in weightGrads { pool.give(gradient) }
            } else {
                perLayer.append(pairs)
            }
        }
        // What is left of the frozen prefix (the inputs of the first
        // trainable layers) is not read again either.
        for j in 0..<start { if let value = activations.values[j] { pool.give(value) } }
        if let workspace { pool.give(workspace) }
        workspace = nil
        return perLayer.reversed().flatMap { $0 }
    }

    /// A convolution's gradients: its kernel's and bias's (`weightGradients`,
    /// if it trains) and its input's (`dInput`, if wanted). A 3x3 one runs
    /// as Winograd, as its forward pass does. With `biasGradient` (known
    /// already), the bias gradient is that rather than dY summed here.
    private func convolutionBackward(_ layer: Layer, geometry g: ConvGeometry, input x: Tensor, dOutput dY: Tensor,
                                     dInput dX: Tensor?, weightGradients: [Tensor], biasGradient: [Float]?,
                                     outputScale: [Float]?) {
        let kernel = layer.weights[0].data
        var dBias = weightGradients.count > 1 ? weightGradients[1].data : nil
        if let biasGradient, let target = dBias {
            for c in biasGradient.indices { target[c] += biasGradient[c] }
            dBias = nil
        }
        let dKernel = weightGradients.first?.data
        guard Winograd3x3.applies(to: g) else {
            func direct(_ scale: UnsafePointer<Float>?) {
                let run = { (packedTranspose: PackedKernel?) in
                    Conv2D.backward(g, input: x.data, kernel: kernel, packedTranspose: packedTranspose,
                                    dOutput: dY.data, dInput: dX?.data, dKernel: dKernel, dBias: dBias,
                                    outputScale: scale, workspace: self.scratch(batch: g.batch).data,
                                    threads: self.threads)
                }
                // The input gradient, if wanted, multiplies by the kernel's
                // transpose (its rows, the output channels, scaled alike).
                if dX == nil { run(nil) } else {
                    withPacked(kernel, rows: g.outChannels, columns: g.patchSize, transposed: true, rowScale: scale,
                               run)
                }
            }
            if let outputScale { outputScale.withUnsafeBufferPointer { direct($0.baseAddress) } } else { direct(nil) }
            return
        }
        precondition(outputScale == nil, "Winograd convolutions take their output gradient scaled (see handsBackScale)")
        let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
        if let dKernel {
            let dU = pool.take([tile.matrices, g.inChannels, g.outChannels])
            Winograd3x3.kernelGradient(g, tile: tile, input: x.data, dOutput: dY.data, dKernel: dKernel, dU: dU.data,
                                       workspace: scratch(batch: g.batch).data, threads: threads,
                                       tileBudget: Winograd3x3.kernelGradientBudget(g, tile: tile))
            pool.give(dU)
        }
        if let dBias {
            Conv2D.biasGradient(dOutput: dY.data, pixels: dY.count / g.outChannels, channels: g.outChannels,
                                dBias: dBias, threads: threads)
        }
        if let dX {
            // A convolution of dY with the turned kernel (K inputs, C outputs).
            let turned = pool.take([9 * g.inChannels * g.outChannels])
            Winograd3x3.turnKernel(kernel, inChannels: g.inChannels, outChannels: g.outChannels, into: turned.data,
                                   threads: threads)
            withWinogradTransform(turned.data, inChannels: g.outChannels, outChannels: g.inChannels,
                                  tile: tile) { u, packed in
                Winograd3x3.inputGradient(g, tile: tile, dOutput: dY.data, transformedTurnedKernel: u, packed: packed,
                                          dInput: dX.data, workspace: scratch(batch: g.batch).data, threads: threads)
            }
            pool.give(turned)
        }
    }

    private func isBatchNorm(_ layer: Layer) -> Bool {
        if case .batchNormalization = layer.kind { return true }
        return false
    }

    /// Refuses a batch whose stored activations could not fit in memory, with
    /// an error rather than a failed allocation deep in the pass.
    private func checkMemory(batch: Int) throws {
        let floats = network.layers[start...].reduce(0) { $0 + $1.outputShape.reduce(1, *) }
        let (total, overflow) = floats.multipliedReportingOverflow(by: batch)
        guard !overflow, total < Int.max / 8 else {
            throw GraftError(.outOfMemory, "a batch of \(batch) needs more memory than exists for its activations")
        }
    }
}

extension Network {
    /// The mean categorical cross-entropy of the logits (the last layer's
    /// output) against integer `labels`, the number of correct argmax
    /// predictions, and the loss's gradient for every trainable weight (in
    /// layer order; BatchNormalization's moving statistics never train).
    /// `dropoutSeed` fixes which values Dropout layers drop. The step's
    /// buffers come from `pool` and go back to it, except the gradients,
    /// which the caller then owns. `winogradTile` runs every 3x3
    /// convolution with that tiling (nil: each with its own, as training does).
    public func lossAndGradients(preprocessed input: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                 batch: Int, threads: Int, dropoutSeed: UInt64 = 0, pool: TensorPool = TensorPool(),
                                 winogradTile: WinogradTile? = nil)
        throws -> (loss: Double, correct: Int, gradients: [(weight: Tensor, gradient: Tensor)]) {
        let step = try TrainingStep(network: self, threads: threads, pool: pool, winogradTile: winogradTile)
        let activations = try step.forward(input, batch: batch, training: true, dropoutSeed: dropoutSeed)
        let classes = outputShape.reduce(1, *)
        let dLogits = Tensor(shape: [batch, classes])
        let (loss, correct) = softmaxCrossEntropy(logits: activations.logits.data, labels: labels, batch: batch,
                                                  classes: classes, dLogits: dLogits.data)
        return (loss, correct, step.backward(activations, dLogits: dLogits))
    }
}
