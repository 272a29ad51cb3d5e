import Glibc
import GraftFoundation
import GraftKernels

/// A training step's pass over one layer, dispatched to its kind's file in
/// `Layers/` (each holds the kind's inference rule, its training forward and
/// backward passes, and the fusions it takes part in); `TrainingStep`
/// decides which layers run, fused with which, and where their gradients go.
extension TrainingStep {
    /// The output of forward op `op`: its layer's, or with a fused ReLU
    /// that of the ReLU after it.
    func forwardLayer(_ op: ForwardOp, values: [Tensor?], dropoutSeed: UInt64, firstImage: Int,
                      masks: inout [Int: Tensor]) -> Tensor {
        let i = op.layer, layer = network.layers[i]
        let inShape = network.layers[layer.inputs[0]].outputShape
        let x = values[op.operands[0].value]!
        let out = pool.take([batch] + layer.outputShape)
        switch layer.kind {
        case .input:
            preconditionFailure("the training plan has one input layer")
        case .conv2D:
            convolutionForward(layer, geometry: layer.windowGeometry(input: inShape, batch: batch), input: x,
                               output: out)
        case .batchNormalization:
            normalizationForward(layer, x: x, output: out, relu: op.fusesReLU)
        case .relu:
            reluForward(x: x, output: out)
        case .add:
            addForward(layer, operands: op.operands, values: values, output: out, relu: op.fusesReLU)
        case .zeroPadding2D:
            zeroPaddingForward(layer, inputShape: inShape, batch: batch, x: x, output: out)
        case .maxPooling2D:
            maxPoolingForward(layer, inputShape: inShape, batch: batch, x: x, output: out)
        case .globalAveragePooling2D:
            globalAveragePoolingForward(inputShape: inShape, batch: batch, x: x, output: out)
        case .flatten:
            out.data.update(from: x.data, count: x.count)
        case .dense:
            denseForward(layer, inputShape: inShape, batch: batch, x: x, output: out)
        case let .dropout(rate):
            masks[i] = dropoutForward(rate: rate, index: i, seed: dropoutSeed,
                                      firstValue: firstImage * (x.count / batch), x: x, output: out)
        }
        return out
    }

    /// The backward pass of a layer that runs its own kernel (`.kernel`
    /// route): its weights' gradients into `weightGrads` and, with `dX`,
    /// its input's gradient. A convolution takes its bias gradient and its
    /// output's scale from the BatchNormalization after it, when that gave
    /// them, and adds its kernel's gradient to `weightGrads[0]` with
    /// `accumulateKernel`.
    func kernelBackward(_ layer: Layer, index i: Int, inputShape inShape: [Int], x: Tensor?, dY: Tensor, dX: Tensor?,
                        weightGrads: [Tensor], activations: Activations, biasGradient: [Float]?,
                        outputScale: [Float]?, accumulateKernel: Bool) {
        let batch = activations.batch
        switch layer.kind {
        case .input, .batchNormalization, .add:
            break
        case .conv2D:
            convolutionBackward(layer, geometry: layer.windowGeometry(input: inShape, batch: batch), input: x!,
                                dOutput: dY, dInput: dX, weightGradients: weightGrads, biasGradient: biasGradient,
                                outputScale: outputScale, accumulateKernel: accumulateKernel)
        case .relu:
            if let dX { reluBackward(output: activations.values[i]!, dY: dY, dX: dX) }
        case .zeroPadding2D:
            if let dX { zeroPaddingBackward(layer, inputShape: inShape, batch: batch, dY: dY, dX: dX) }
        case .maxPooling2D:
            if let dX { maxPoolingBackward(layer, inputShape: inShape, batch: batch, x: x!, dY: dY, dX: dX) }
        case .globalAveragePooling2D:
            if let dX { globalAveragePoolingBackward(inputShape: inShape, batch: batch, dY: dY, dX: dX) }
        case .flatten:
            dX?.data.update(from: dY.data, count: dY.count)
        case .dense:
            denseBackward(layer, inputShape: inShape, batch: batch, x: x!, dY: dY, dX: dX, weightGrads: weightGrads)
        case .dropout:
            if let dX { dropoutBackward(mask: activations.masks[i], dY: dY, dX: dX) }
        }
    }

    /// A tensor of zeros from the pool, cleared on every thread (weight
    /// gradients are as large as the weights: all of ResNet50's at once in
    /// a whole-base step).
    func zeros(_ shape: [Int]) -> Tensor {
        let tensor = pool.take(shape)
        Parallel.forRanges(tensor.count, threads: threads) { r, _ in
            (tensor.data + r.lowerBound).update(repeating: 0, count: r.count)
        }
        return tensor
    }
}
