import GraftFoundation
import GraftKernels

/// Activation("relu"). In inference it runs in the epilogue of the
/// convolution before it (`compileConvolution`). In training the
/// BatchNormalization or Add before it can compute it in the same pass
/// (`fusedReLU`), keeping only its output; its gradient is then masked by
/// that layer's backward pass, or as its two terms are summed, or in place.
extension PlanCompiler {
    mutating func compileReLU(_ i: Int) {
        let count = shape(i).reduce(1, *)
        emit(i, reading: [network.layers[i].inputs[0]]) { r, w in .relu(count: count, input: r[0], output: w) }
    }

    /// Whether layer i, a BatchNormalization or Add read only by the ReLU
    /// right after it, computes that ReLU in its own training pass
    /// (`fusedReLU`): neither backward pass needs the output before the ReLU.
    func runsTheReLUAfterIt(_ i: Int) -> Bool {
        let layer = network.layers[i]
        guard isComputedInTraining(i), soleConsumer(i) == i + 1,
              layer.isBatchNormalization || layer.kind == .add else { return false }
        return network.layers[i + 1].kind == .relu
    }
}

extension TrainingStep {

    func reluForward(x: Tensor, output out: Tensor) {
        Parallel.forRanges(x.count, threads: threads) { r, _ in
            relu(input: x.data + r.lowerBound, count: r.count, output: out.data + r.lowerBound)
        }
    }

    /// dX = dY where the ReLU's `output` is positive, else 0 (dX may be dY).
    func reluBackward(output y: Tensor, dY: Tensor, dX: Tensor) {
        Parallel.forRanges(dY.count, threads: threads) { r, _ in
            GraftKernels.reluBackward(output: y.data + r.lowerBound, dOutput: dY.data + r.lowerBound, count: r.count,
                                      dInput: dX.data + r.lowerBound)
        }
    }
}
