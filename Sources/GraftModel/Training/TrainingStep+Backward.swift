import Glibc
import GraftFoundation
import GraftKernels

/// The backward pass: every layer from the last to the first trainable one,
/// its gradient routed as the step's fusions decided.
extension TrainingStep {
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
            let trained = trains ? layer.trainedWeightCount : 0
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
}
