import Glibc
import GraftFoundation
import GraftKernels

/// What each layer kind computes in a training step, forward and backward
/// (convolutions in `TrainingStep+Convolution.swift`); `TrainingStep`
/// decides which layers run, fused with which, and where their gradients go.
extension TrainingStep {
    /// Layer `i`'s output; with `relu`, that of the ReLU after it (`fusedReLU`).
    func forwardLayer(_ layer: Layer, index i: Int, x: Tensor, values: [Tensor?], batch: Int,
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
            Parallel.forRanges(x.count / c, threads: threads, grain: Parallel.pixelGrain(channels: c)) { pixels, _ in
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
            Parallel.forRanges(a.count / c, threads: threads, grain: Parallel.pixelGrain(channels: c)) { pixels, _ in
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

    /// A tensor of zeros from the pool, cleared on every thread (weight
    /// gradients are as large as the weights: 94 MB for all of ResNet50).
    func zeros(_ shape: [Int]) -> Tensor {
        let tensor = pool.take(shape)
        Parallel.forRanges(tensor.count, threads: threads) { r, _ in
            (tensor.data + r.lowerBound).update(repeating: 0, count: r.count)
        }
        return tensor
    }

    func affine(_ layer: Layer, epsilon: Float) -> BatchNormAffine {
        let w = layer.weights
        return BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                               movingVariance: w[3].data, channels: w[0].count, epsilon: epsilon)
    }


    /// The backward pass of a layer that runs its own kernel (`.kernel`
    /// route): its weights' gradients into `weightGrads` and, with `dX`,
    /// its input's gradient. A convolution takes its bias gradient and its
    /// output's scale from the BatchNormalization after it, when that gave
    /// them.
    func kernelBackward(_ layer: Layer, index i: Int, inputShape inShape: [Int], x: Tensor?, dY: Tensor, dX: Tensor?,
                        weightGrads: [Tensor], activations: Activations, biasGradient: [Float]?,
                        outputScale: [Float]?) {
        let batch = activations.batch
        switch layer.kind {
        case .input, .batchNormalization, .add:
            break
        case .conv2D:
            convolutionBackward(layer, geometry: layer.windowGeometry(input: inShape, batch: batch), input: x!,
                                dOutput: dY, dInput: dX, weightGradients: weightGrads, biasGradient: biasGradient,
                                outputScale: outputScale)
        case .relu:
            if let dX {
                let y = activations.values[i]!
                Parallel.forRanges(dY.count, threads: threads) { r, _ in
                    reluBackward(output: y.data + r.lowerBound, dOutput: dY.data + r.lowerBound, count: r.count,
                                 dInput: dX.data + r.lowerBound)
                }
            }
        case let .zeroPadding2D(top, _, left, _):
            if let dX {
                let out = layer.outputShape
                zeroPad2DBackward(dOutput: dY.data, batch: batch, height: inShape[0], width: inShape[1],
                                  channels: inShape[2], top: top, left: left, outHeight: out[0], outWidth: out[1],
                                  dInput: dX.data, threads: threads)
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
            denseBackward(input: x!.data, batch: batch, inputs: inShape.reduce(1, *), kernel: layer.weights[0].data,
                          units: units, dOutput: dY.data, dInput: dX?.data, dKernel: weightGrads.first?.data,
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

    /// BatchNormalization's backward pass: gamma's and beta's gradients if
    /// it trains, its input's gradient with `dX`, masked by the ReLU fused
    /// after it with `masksReLU`. Returns its affine map (whose scale the
    /// convolution before it may take).
    func normalizationBackward(_ layer: Layer, inputShape inShape: [Int], x: Tensor, dY: Tensor, dX: Tensor?,
                               weightGrads: [Tensor], masksReLU: Bool) -> BatchNormAffine {
        guard case let .batchNormalization(eps) = layer.kind else { preconditionFailure("\(layer.name) is not BatchNormalization") }
        let normalization = affine(layer, epsilon: eps)
        normalization.backward(
            input: x.data, dOutput: dY.data, pixels: dY.count / inShape.last!, gamma: layer.weights[0].data,
            movingMean: layer.weights[2].data, dInput: dX?.data, dGamma: weightGrads.first?.data,
            dBeta: weightGrads.count > 1 ? weightGrads[1].data : nil, reluFollows: masksReLU, threads: threads)
        return normalization
    }
}
