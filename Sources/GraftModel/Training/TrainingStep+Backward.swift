import Glibc
import GraftFoundation
import GraftKernels

/// A gradient buffer and the number of layers holding it: an Add hands one
/// buffer to all its inputs (read-only, no copy), and it goes back to the
/// pool with its last holder.
final class HeldGradient {
    let tensor: Tensor
    var holders = 1
    init(_ tensor: Tensor) { self.tensor = tensor }
    var isShared: Bool { holders > 1 }
}

extension TrainingStep {
    /// Gradients of the loss for every trainable weight, given the gradient
    /// of the logits. Returned in layer order as (weight, gradient) pairs.
    ///
    /// With `update`, each layer's pairs go to it as soon as that layer's
    /// backward pass is done, and its gradients then back to the pool; the
    /// result is empty. An optimizer can step a layer there: no later part
    /// of the pass reads that layer's weights, and the gradients of all the
    /// weights are never held at once.
    ///
    /// With `sums` (a micro-batch of a split batch), every gradient goes
    /// into its running sum instead, the convolutions' kernels adding theirs
    /// in place; the result is empty.
    func backward(_ activations: Activations, dLogits: Tensor, sums: GradientSums? = nil,
                  update: (([(weight: Tensor, gradient: Tensor)]) -> Void)? = nil)
        -> [(weight: Tensor, gradient: Tensor)] {
        let layers = network.layers
        let batch = activations.batch
        var grads = [HeldGradient?](repeating: nil, count: layers.count)
        grads[layers.count - 1] = HeldGradient(dLogits)
        var perLayer: [[(weight: Tensor, gradient: Tensor)]] = []
        /// A holder is done with `g`.
        func release(_ g: HeldGradient) {
            g.holders -= 1
            if g.holders == 0 { pool.give(g.tensor) }
        }
        /// Adds `g`, from layer `reader`, into the gradient of layer j's
        /// output (a layer read by two others, as a residual block's input
        /// is, gets both). The sum goes into whichever of the two no other
        /// layer holds. The last reader of a ReLU in `masksSum` applies its
        /// mask in the same pass.
        func accumulate(_ j: Int, _ g: HeldGradient, from reader: Int) {
            guard let existing = grads[j] else {
                grads[j] = g
                return
            }
            let sum = !existing.isShared ? existing : !g.isShared ? g : HeldGradient(pool.take(g.tensor.shape))
            let a = existing.tensor.data, b = g.tensor.data, target = sum.tensor.data
            if plan.masksSum[j] && reader == network.consumers[j].min(), let y = activations.values[j] {
                Parallel.forRanges(g.tensor.count, threads: threads) { r, _ in
                    GraftKernels.reluBackward(output: y.data + r.lowerBound, dOutput: a + r.lowerBound,
                                              plus: b + r.lowerBound, count: r.count, dInput: target + r.lowerBound)
                }
            } else {
                Parallel.forRanges(g.tensor.count, threads: threads) { r, _ in
                    for k in r { target[k] = a[k] + b[k] }
                }
            }
            if sum !== existing { release(existing) }
            if sum !== g { release(g) }
            grads[j] = sum
        }
        /// Bias gradients of the convolutions a BatchNormalization gives
        /// them to (`givesBias`): the convolution's output gradient is
        /// dY·scale per channel, so its sum over the pixels is scale·Σ dY,
        /// scale times beta's gradient (no pass over the pixels of its own).
        var biasGradients = [[Float]?](repeating: nil, count: layers.count)
        /// The scales of the BatchNormalization layers in `handsBackScale`,
        /// by the convolution whose output gradient they handed back.
        var outputScales = [[Float]?](repeating: nil, count: layers.count)

        for op in plan.backward {
            let i = op.layer, j = op.input, layer = layers[i]
            guard let held = grads[i] else { continue }
            grads[i] = nil
            let dY = held.tensor
            let inShape = layers[j].outputShape
            let x = activations.values[j]
            // A convolution's backward pass writes its kernel's gradient
            // whole, or adds it to a running sum; the other gradients are
            // summed into zeros.
            let writesKernelGradient: Bool
            if case .conv2D = layer.kind { writesKernelGradient = true } else { writesKernelGradient = false }
            let weightGrads = layer.weights.prefix(op.trainedWeights).enumerated().map { w, weight in
                guard writesKernelGradient && w == 0 else { return zeros(weight.shape) }
                return sums?.target(for: weight) ?? pool.take(weight.shape)
            }
            let summedInPlace = writesKernelGradient && sums != nil ? min(1, weightGrads.count) : 0
            let dX = op.writesInputGradient ? pool.take([batch] + inShape) : nil
            // Whether dY's buffer went on to another layer, which now holds it.
            var dYPassedOn = false

            profile.measure(layer.name, .backward) {
                switch op.route {
                case .kernel:
                    kernelBackward(layer, index: i, inputShape: inShape, x: x, dY: dY, dX: dX, weightGrads: weightGrads,
                                   activations: activations, biasGradient: biasGradients[i],
                                   outputScale: outputScales[i], accumulateKernel: sums?.isFirstPart == false)
                case let .normalization(masksReLU, givesBias, handsBack):
                    let normalization = normalizationBackward(layer, inputShape: inShape, x: x!, dY: dY, dX: dX,
                                                              weightGrads: weightGrads, masksReLU: masksReLU)
                    if givesBias {
                        let dBeta = weightGrads[1].data
                        biasGradients[j] = normalization.scale.indices.map { normalization.scale[$0] * dBeta[$0] }
                    }
                    if handsBack {
                        outputScales[j] = normalization.scale
                        accumulate(j, held, from: i)
                        dYPassedOn = true
                    }
                case .fusedReLU(let masking):
                    switch masking {
                    case .maskedByNormalization, .maskedAsSummed:
                        grads[j] = held
                    case .maskedHere:
                        // Into a new buffer if dY is shared: the Add passes it on as is.
                        let target = held.isShared ? HeldGradient(pool.take(dY.shape)) : held
                        reluBackward(output: activations.values[i]!, dY: dY, dX: target.tensor)
                        if target !== held { release(held) }
                        grads[j] = target
                    }
                    dYPassedOn = true
                case .add(let receivers):
                    // Every input's gradient is dY itself: they share it.
                    if receivers.count > 1 { held.holders += receivers.count - 1 }
                    for input in receivers { accumulate(input, held, from: i) }
                    dYPassedOn = !receivers.isEmpty
                }
            }
            // The sum with another reader's gradient, if any, counts as
            // this layer's backward pass.
            if let dX { profile.measure(layer.name, .backward) { accumulate(j, HeldGradient(dX), from: i) } }
            // Layer i's output and its gradient are not read again.
            if !dYPassedOn { release(held) }
            if i != network.layers.count - 1, let output = activations.values[i] { pool.give(output) }
            if let mask = activations.masks[i] { pool.give(mask) }
            let pairs = weightGrads.indices.map { (weight: layer.weights[$0], gradient: weightGrads[$0]) }
            if let sums {
                sums.add(Array(pairs[summedInPlace...]), threads: threads)
                sums.layerDone()
                for gradient in weightGrads[summedInPlace...] { pool.give(gradient) }
            } else if let update {
                profile.measure(layer.name, .optimizer) { update(pairs) }
                for gradient in weightGrads { pool.give(gradient) }
            } else {
                perLayer.append(pairs)
            }
        }
        // What is left of the frozen prefix (the inputs of the first
        // trainable layers) is not read again either; the output a step
        // resumed from is its caller's.
        for j in 0..<plan.start where j != plan.resumeAfter {
            if let value = activations.values[j] { pool.give(value) }
        }
        if let workspace { pool.give(workspace) }
        workspace = nil
        return perLayer.reversed().flatMap { $0 }
    }
}
