import GraftFoundation
import GraftKernels

/// BatchNormalization, always in inference mode (its moving statistics, as
/// Keras's `training=False`; gamma and beta train when the layer does). In
/// inference it is folded into the convolution before it
/// (`compileConvolution`), and compiled on its own only where none is. In
/// training its forward pass can run the ReLU after it, an Add can apply it
/// as it reads its input, and it can hand its scale back to the convolution
/// before it (`handsBackItsScale`) or give that convolution its bias gradient.
extension PlanCompiler {
    mutating func compileBatchNormalization(_ i: Int) {
        let layer = network.layers[i]
        guard case let .batchNormalization(eps) = layer.kind else { preconditionFailure("\(layer.name) is not BatchNormalization") }
        let w = layer.weights
        let c = shape(i).last!
        let affine = BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                                     movingVariance: w[3].data, channels: c, epsilon: eps)
        let pixels = shape(i).reduce(1, *) / c
        emit(i, reading: [layer.inputs[0]]) { r, w in .batchNorm(affine, pixels: pixels, input: r[0], output: w) }
    }

    /// Whether layer i is a BatchNormalization whose only reader is an Add
    /// (`normalizedByAdd`): in training the Add applies it as it reads its
    /// input, and its output is never stored (no backward pass reads it).
    func isAppliedByTheAddAfterIt(_ i: Int) -> Bool {
        guard isComputedInTraining(i), network.layers[i].isBatchNormalization, consumers[i].count == 1 else {
            return false
        }
        return network.layers[consumers[i][0]].kind == .add
    }
}

extension TrainingStep {

    /// The layer's inference-mode affine map (scale and shift per channel).
    func affine(_ layer: Layer) -> BatchNormAffine {
        guard case let .batchNormalization(epsilon) = layer.kind else { preconditionFailure("\(layer.name) is not BatchNormalization") }
        let w = layer.weights
        return BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                               movingVariance: w[3].data, channels: w[0].count, epsilon: epsilon)
    }

    /// The normalized input, with the ReLU after it when `relu`.
    func normalizationForward(_ layer: Layer, x: Tensor, output out: Tensor, relu: Bool) {
        let bn = affine(layer), c = layer.outputShape.last!
        let streamed = streamsOutput(floats: out.count)
        Parallel.forRanges(x.count / c, threads: threads, grain: Parallel.pixelGrain(channels: c)) { pixels, _ in
            bn.apply(input: x.data + pixels.lowerBound * c, pixels: pixels.count,
                     output: out.data + pixels.lowerBound * c, relu: relu, streamed: streamed)
        }
    }

    /// BatchNormalization's backward pass: gamma's and beta's gradients if
    /// it trains, its input's gradient with `dX`, masked by the ReLU fused
    /// after it with `masksReLU`. Returns its affine map (whose scale the
    /// convolution before it may take).
    func normalizationBackward(_ layer: Layer, inputShape inShape: [Int], x: Tensor, dY: Tensor, dX: Tensor?,
                               weightGrads: [Tensor], masksReLU: Bool) -> BatchNormAffine {
        let normalization = affine(layer)
        normalization.backward(
            input: x.data, dOutput: dY.data, pixels: dY.count / inShape.last!, gamma: layer.weights[0].data,
            movingMean: layer.weights[2].data, dInput: dX?.data, dGamma: weightGrads.first?.data,
            dBeta: weightGrads.count > 1 ? weightGrads[1].data : nil, reluFollows: masksReLU, threads: threads)
        return normalization
    }
}
