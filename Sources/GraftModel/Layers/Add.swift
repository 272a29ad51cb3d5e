import GraftFoundation
import GraftKernels

/// Add, the residual sum. In inference it runs in the epilogue of the
/// convolution that produces one operand (`compileConvolution`), and on its
/// own only where none does. In training it applies the BatchNormalization
/// that produces an operand as it reads that layer's input
/// (`normalizedByAdd`), can run the ReLU after it (`fusedReLU`), and its
/// backward pass hands one gradient buffer to both its inputs.
extension PlanCompiler {
    mutating func compileAdd(_ i: Int) {
        let count = shape(i).reduce(1, *)
        emit(i, reading: network.layers[i].inputs) { r, w in .add(count: count, a: r[0], b: r[1], output: w) }
    }
}

extension TrainingStep {
    /// The sum of the two operands, each as stored or with the affine map of
    /// the BatchNormalization this Add applies to it (`normalizedByAdd`);
    /// with the ReLU after it when `relu`.
    func addForward(_ layer: Layer, operands: [Operand], values: [Tensor?], output out: Tensor, relu: Bool) {
        let (a, b) = (values[operands[0].value]!, values[operands[1].value]!)
        let aNormalization = operands[0].normalizedBy.map { affine(network.layers[$0]) }
        let bNormalization = operands[1].normalizedBy.map { affine(network.layers[$0]) }
        let c = layer.outputShape.last!
        let streamed = streamsOutput(floats: out.count)
        Parallel.forRanges(a.count / c, threads: threads, grain: Parallel.pixelGrain(channels: c)) { pixels, _ in
            let at = pixels.lowerBound * c
            add(a.data + at, normalizedBy: aNormalization, b.data + at, normalizedBy: bNormalization,
                pixels: pixels.count, channels: c, output: out.data + at, relu: relu, streamed: streamed)
        }
    }
}
