import GraftFoundation
import GraftKernels

/// A network compiled for training steps on batches of `batch` images with
/// one trainability, by `PlanCompiler.compileTraining`; a `TrainingStep`
/// runs it for every batch of that size.
///
/// - Fusions, decided by the compiler (`PlanCompiler.fusedReLU` and the
///   next two): a BatchNormalization or Add computes the ReLU after it
///   (`fusedReLU`); an Add applies a BatchNormalization that feeds it as it
///   reads that layer's input (`normalizedByAdd`); a BatchNormalization
///   hands its output gradient back unscaled, with its scale, to the
///   convolution before it (`handsBackScale`). `.unfused` makes none: every
///   layer on its own, as Keras's graph lists them, the reference the tests
///   compare the fused plan against.
/// - `forward`: the ops in order, each with the stored outputs it reads and
///   those it frees; an output stays while a later op or the backward pass
///   reads it.
/// - `backward`: last layer first, which layers get a gradient, the route
///   each takes, and where each ReLU's mask is applied (`BackwardPlan.swift`).
struct TrainingPlan {
    /// Whether layers run fused with their neighbours (the speed) or each on
    /// its own (the reference).
    enum Fusion { case fused, unfused }

    let batch: Int
    /// The earliest layer with trainable weights: the backward pass stops
    /// there, and the layers before it run forward only.
    let start: Int
    /// The layer whose output a step is given instead of images (cached
    /// features of the frozen prefix); the forward pass starts after it.
    let resumeAfter: Int?
    let forward: [ForwardOp]
    let backward: [BackwardOp]
    /// ReLUs after an Add whose last reader masks their gradient as it sums
    /// its two terms.
    let masksSum: [Bool]
    /// Floats of the scratch memory all the convolutions share, forward and
    /// backward.
    let workspaceFloats: Int
}

/// One op of the forward pass: layer `layer`, and the ReLU after it when
/// `output` is that ReLU (`fusedReLU`).
struct ForwardOp {
    let layer: Int
    let operands: [Operand]
    /// The layer whose output the op stores.
    let output: Int
    /// Stored outputs that nothing reads after this op: back to the pool.
    let releases: [Int]

    var fusesReLU: Bool { output != layer }
}

/// A stored output an op reads, with the BatchNormalization it applies to it
/// as it reads (`normalizedByAdd`), if any.
struct Operand {
    let value: Int
    let normalizedBy: Int?
}

extension PlanCompiler {
    /// The training plan of the network's current trainability for batches
    /// of `capacity` images. With `resumeAfter`, steps start from that
    /// layer's output, which every later layer must read only it or layers
    /// after it. `winogradTile` runs every 3x3 convolution with that tiling
    /// (nil: each with its own).
    mutating func compileTraining(fusion: TrainingPlan.Fusion, resumeAfter: Int?, threads: Int,
                                  winogradTile: WinogradTile?) throws -> TrainingPlan {
        let layers = network.layers
        guard let start = network.firstTrainable else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before training")
        }
        if let second = layers.dropFirst().first(where: { $0.kind == .input }) {
            throw GraftError(.state, "layer \(second.name): a second input layer is not supported")
        }
        let floats = layers[start...].reduce(0) { $0 + $1.outputShape.reduce(1, *) }
        let (total, overflow) = floats.multipliedReportingOverflow(by: capacity)
        guard !overflow, total < Int.max / 8 else {
            throw GraftError(.outOfMemory, "a batch of \(capacity) needs more memory than exists for its activations")
        }
        if let resumeAfter {
            precondition(resumeAfter < start && layers[(resumeAfter + 1)...].allSatisfy {
                $0.inputs.allSatisfy { $0 >= resumeAfter }
            }, "training resumes after a layer that later layers do not read alone")
        }
        self.start = start
        self.resumeAfter = resumeAfter
        // In order: each rule needs the ones before it.
        if fusion == .fused {
            fusedReLU = Set(layers.indices.filter { runsTheReLUAfterIt($0) })
            normalizedByAdd = Set(layers.indices.filter { isAppliedByTheAddAfterIt($0) })
            handsBackScale = Set(layers.indices.filter { handsBackItsScale($0) })
        }
        let (backward, masksSum) = planBackward()
        return TrainingPlan(batch: capacity, start: start, resumeAfter: resumeAfter, forward: planForward(), backward: backward, masksSum: masksSum,
                            workspaceFloats: trainingWorkspaceFloats(threads: threads, winogradTile: winogradTile))
    }

    /// Whether layer i is computed by a training step: it comes after the
    /// layer the step resumes from.
    func isComputedInTraining(_ i: Int) -> Bool { i > (resumeAfter ?? 0) }

    /// The forward ops, in layer order: a BatchNormalization that an Add
    /// applies gets none, a ReLU fused into the layer before it neither.
    private func planForward() -> [ForwardOp] {
        let layers = network.layers
        var ops: [(layer: Int, operands: [Operand], output: Int)] = []
        var i = (resumeAfter ?? 0) + 1
        while i < layers.count {
            if normalizedByAdd.contains(i) {
                i += 1
                continue
            }
            let operands = layers[i].inputs.map { j in
                normalizedByAdd.contains(j) ? Operand(value: layers[j].inputs[0], normalizedBy: j)
                    : Operand(value: j, normalizedBy: nil)
            }
            let output = fusedReLU.contains(i) ? i + 1 : i
            ops.append((i, operands, output))
            i = output + 1
        }
        // An output goes back to the pool after its last reader, unless a
        // backward pass reads it: in the frozen prefix none does (an Add's
        // operands, for one, are never read again either). The given output
        // a step resumes from is its caller's.
        let lastUse = lastReaders(of: ops.map { $0.operands.map(\.value) })
        let kept = keptForBackward()
        return ops.enumerated().map { k, op in
            let releases = Set(op.operands.map(\.value)).filter { v in
                lastUse[v] == k && v != resumeAfter && (op.layer < start || !kept[v])
            }
            return ForwardOp(layer: op.layer, operands: op.operands, output: op.output, releases: releases.sorted())
        }
    }

    /// Whether some backward pass reads each layer's output: the logits';
    /// a ReLU's (its mask, also when fused into the layer before it); the
    /// input of a convolution or Dense (for their kernel gradients), of a
    /// BatchNormalization (gamma's) and of max pooling (where the maxima were).
    private func keptForBackward() -> [Bool] {
        let layers = network.layers
        func readsInput(_ layer: Layer) -> Bool {
            switch layer.kind {
            case .conv2D, .batchNormalization, .maxPooling2D, .dense: true
            default: false
            }
        }
        return layers.indices.map { j in
            j == layers.count - 1 || layers[j].kind == .relu || consumers[j].contains { readsInput(layers[$0]) }
        }
    }
}
