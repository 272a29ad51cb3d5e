import GraftFoundation
import GraftKernels

/// The head's layers: Dense, Flatten and Dropout. Flatten and Dropout take
/// no memory of their own in inference: NHWC rows flattened are Keras's
/// Flatten order, and Dropout is the identity there. In training, Dropout
/// zeroes each value with probability `rate` and scales the rest by
/// 1/(1 − rate), from a seed per step and layer.
extension PlanCompiler {
    mutating func compileDense(_ i: Int) {
        let layer = network.layers[i]
        guard case let .dense(units) = layer.kind else { preconditionFailure("\(layer.name) is not Dense") }
        let inputs = shape(layer.inputs[0]).reduce(1, *)
        let k = layer.weights[0].copy(), b = layer.weights[1].copy()
        emit(i, reading: [layer.inputs[0]]) { r, w in
            .dense(kernel: k, bias: b, inputs: inputs, units: units, input: r[0], output: w)
        }
    }

    /// Flatten and Dropout: the input's memory is the output's.
    mutating func compileSameMemory(_ i: Int) {
        valueOf[i] = valueOf[network.layers[i].inputs[0]]
    }
}

extension TrainingStep {
    func denseForward(_ layer: Layer, inputShape: [Int], batch: Int, x: Tensor, output out: Tensor) {
        guard case let .dense(units) = layer.kind else { preconditionFailure("\(layer.name) is not Dense") }
        dense(input: x.data, batch: batch, inputs: inputShape.reduce(1, *), kernel: layer.weights[0].data,
              bias: layer.weights[1].data, units: units, output: out.data)
    }

    /// The kernel's and bias's gradients (when they train) and, with `dX`,
    /// the input's.
    func denseBackward(_ layer: Layer, inputShape: [Int], batch: Int, x: Tensor, dY: Tensor, dX: Tensor?,
                       weightGrads: [Tensor]) {
        guard case let .dense(units) = layer.kind else { preconditionFailure("\(layer.name) is not Dense") }
        GraftKernels.denseBackward(input: x.data, batch: batch, inputs: inputShape.reduce(1, *),
                                   kernel: layer.weights[0].data, units: units, dOutput: dY.data, dInput: dX?.data,
                                   dKernel: weightGrads.first?.data,
                                   dBias: weightGrads.count > 1 ? weightGrads[1].data : nil)
    }

    /// The input with values dropped; returns the mask (already scaled by
    /// 1/(1 − rate)) the backward pass applies, or nil when the rate is 0
    /// (the input as it is). The draws are those of the
    /// whole batch's values from its value `firstValue` on (a part of a
    /// batch drops what the whole batch would).
    func dropoutForward(rate: Float, index i: Int, seed: UInt64, firstValue: Int, x: Tensor,
                        output out: Tensor) -> Tensor? {
        guard rate > 0 else {
            out.data.update(from: x.data, count: x.count)
            return nil
        }
        let mask = pool.take(x.shape)
        var random = SplitMix64(seed: seed ^ UInt64(i) &* SplitMix64.golden)
        random.skip(firstValue)
        let keep = 1 / (1 - rate)
        for k in 0..<x.count {
            mask.data[k] = random.nextUnitFloat() < rate ? 0 : keep
            out.data[k] = x.data[k] * mask.data[k]
        }
        return mask
    }

    func dropoutBackward(mask: Tensor?, dY: Tensor, dX: Tensor) {
        guard let mask else { return dX.data.update(from: dY.data, count: dY.count) }
        for k in 0..<dY.count { dX.data[k] = dY.data[k] * mask.data[k] }
    }
}
