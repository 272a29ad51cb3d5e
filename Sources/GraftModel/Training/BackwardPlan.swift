import GraftKernels

/// One layer's part of the backward pass, with everything that does not
/// depend on the batch decided when the plan is compiled (`planBackward`).
struct BackwardOp {
    let layer: Int
    /// The layer whose output this one reads first, and whose gradient its
    /// input gradient feeds.
    let input: Int
    /// How many of the layer's weights get gradients: 0 for a frozen layer.
    let trainedWeights: Int
    /// Whether the layer writes its input's gradient into a buffer of its
    /// own, then summed into what the input's other readers gave.
    let writesInputGradient: Bool
    let route: Route

    enum Route {
        /// The layer's own backward kernel: convolution, pooling, Dense, ...
        case kernel
        /// BatchNormalization: `masksReLU`, its gradient masked in its own
        /// pass by the ReLU fused after it (`fusedReLU`); `givesBias`, the
        /// convolution before it (read by nothing else) takes its bias
        /// gradient as scale times beta's; `handsBackScale`, dY goes back to
        /// that convolution unscaled, with the scale (`handsBackScale`).
        case normalization(masksReLU: Bool, givesBias: Bool, handsBackScale: Bool)
        /// A ReLU fused after the layer before it (`fusedReLU`): its
        /// gradient goes to that layer as it is, masked there.
        case fusedReLU(FusedReLU)
        /// Add: dY itself, one buffer, to every input that needs a gradient.
        case add(receivers: [Int])
    }

    enum FusedReLU {
        /// BatchNormalization masks it in its own pass.
        case maskedByNormalization
        /// Masked as its two terms were summed (`masksSum`).
        case maskedAsSummed
        /// Masked here, in place, before the Add passes it on.
        case maskedHere
    }
}

extension PlanCompiler {
    /// Decides the backward pass's ops, last layer first: which layers get a
    /// gradient at all, which route each takes, and which ReLUs after an Add
    /// are masked as their two terms are summed (`masksSum`). It follows the
    /// gradients as the pass will, with flags for buffers.
    func planBackward() -> (ops: [BackwardOp], masksSum: [Bool]) {
        let layers = network.layers
        var hasGradient = [Bool](repeating: false, count: layers.count)
        var masksSum = [Bool](repeating: false, count: layers.count)
        hasGradient[layers.count - 1] = true
        func receives(_ j: Int, from reader: Int) {
            if hasGradient[j] && reluAfterAdd(j) && reader == consumers[j].min() { masksSum[j] = true }
            hasGradient[j] = true
        }
        var ops: [BackwardOp] = []
        for i in stride(from: layers.count - 1, through: start, by: -1) where hasGradient[i] {
            let layer = layers[i], j = layer.inputs.first ?? 0
            let needsGradient = j >= start
            var route = BackwardOp.Route.kernel
            switch layer.kind {
            case .batchNormalization:
                let source = layers[j]
                var givesBias = false
                if case .conv2D = source.kind {
                    givesBias = layer.trainable && layer.trainedWeightCount > 1 && source.trainable
                        && source.weights.count > 1 && consumers[j] == [i]
                }
                // The ReLU after it, if fused, reached it first and left the masking to it.
                route = .normalization(masksReLU: fusedReLU.contains(i), givesBias: givesBias,
                                       handsBackScale: handsBackScale.contains(i))
                if handsBackScale.contains(i) { receives(j, from: i) }
            case .relu where fusedReLU.contains(j):
                if needsGradient {
                    route = .fusedReLU(layers[j].isBatchNormalization ? .maskedByNormalization
                                       : masksSum[i] ? .maskedAsSummed : .maskedHere)
                    hasGradient[j] = true
                }
            case .add:
                let receivers = layer.inputs.filter { $0 >= start }
                route = .add(receivers: receivers)
                for input in receivers { receives(input, from: i) }
            default:
                break
            }
            // An Add passes dY itself on, a fused ReLU hands its gradient to
            // the layer before it, and so does a BatchNormalization that
            // hands back its scale: none of them writes a new one.
            let writes = needsGradient && layer.kind != .add && !(layer.kind == .relu && fusedReLU.contains(j))
                && !handsBackScale.contains(i)
            if writes { receives(j, from: i) }
            ops.append(BackwardOp(layer: i, input: j,
                                  trainedWeights: layer.trainable && !layer.weights.isEmpty ? layer.trainedWeightCount : 0,
                                  writesInputGradient: writes, route: route))
        }
        return (ops, masksSum)
    }

    /// Whether layer j is a ReLU fused after an Add.
    private func reluAfterAdd(_ j: Int) -> Bool {
        let layer = network.layers[j]
        return layer.kind == .relu && fusedReLU.contains(layer.inputs[0]) && !network.layers[layer.inputs[0]].isBatchNormalization
    }
}
