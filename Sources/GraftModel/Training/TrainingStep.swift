import Glibc
import GraftFoundation
import GraftKernels

/// One training step over a network, as Keras's `GradientTape` with
/// `model(x, training=False)` computes it: BatchNormalization always uses
/// its moving statistics (its gamma and beta train when the layer does),
/// Dropout drops.
///
/// It runs a `TrainingPlan`, compiled once for the network's trainability
/// and a batch size (the trainer keeps one step per trainability and size):
/// the forward ops in order, keeping the activations the backward pass
/// needs, and only from the earliest layer with trainable weights on
/// (layers before it are a frozen prefix that runs forward only), then the
/// backward ops, last layer first, stopping there.
final class TrainingStep {
    let network: Network
    let threads: Int
    let plan: TrainingPlan
    /// Where the step's buffers come from and go back to (kept across steps
    /// by the caller).
    let pool: TensorPool
    /// Scratch memory of the convolutions, forward and backward: one buffer
    /// of the largest size any of them needs, shared by all (`scratch()`).
    var workspace: Tensor?
    /// Where each layer's time goes, when set.
    var profile: LayerProfile?
    /// The Winograd tiling of every 3x3 convolution, or nil for each one's
    /// own (`Winograd3x3.tile(for:training:)`).
    let winogradTile: WinogradTile?

    /// The step for batches of `batch` images; see
    /// `PlanCompiler.compileTraining` for `resumeAfter` and `winogradTile`.
    init(network: Network, batch: Int, threads: Int, pool: TensorPool = TensorPool(),
         winogradTile: WinogradTile? = nil, resumeAfter: Int? = nil,
         fusion: TrainingPlan.Fusion = .fused) throws {
        self.network = network
        self.threads = threads
        self.pool = pool
        self.winogradTile = winogradTile
        var compiler = PlanCompiler(network: network, capacity: batch)
        plan = try compiler.compileTraining(fusion: fusion, resumeAfter: resumeAfter, threads: threads,
                                            winogradTile: winogradTile)
    }

    var batch: Int { plan.batch }

    /// The outputs of the forward pass: every layer's activation that is kept.
    struct Activations {
        var values: [Tensor?]
        let batch: Int
        /// Dropout masks (already scaled by 1/(1 − rate)), by layer.
        var masks: [Int: Tensor] = [:]
        var logits: Tensor { values.last!! }
    }

    /// Runs the forward ops on the step's batch of preprocessed images at
    /// `input`, or, when the plan resumes after a layer, on that layer's
    /// output `resume` (which stays the caller's). Activations no later op
    /// or backward pass reads go back to the pool as soon as their last
    /// reader has run. Dropout draws from `dropoutSeed` as for images
    /// `firstImage...` of a larger batch (a micro-batch's share).
    func forward(_ input: UnsafePointer<Float>?, resume: Tensor? = nil, dropoutSeed: UInt64,
                 firstImage: Int = 0) -> Activations {
        let layers = network.layers
        var values = [Tensor?](repeating: nil, count: layers.count)
        var masks: [Int: Tensor] = [:]
        if let layer = plan.resumeAfter {
            values[layer] = resume!
        } else {
            let inputTensor = pool.take([batch] + layers[0].outputShape)
            inputTensor.data.update(from: input!, count: inputTensor.count)
            values[0] = inputTensor
        }
        for op in plan.forward {
            values[op.output] = profile.measure(layers[op.layer].name, .forward) {
                forwardLayer(op, values: values, dropoutSeed: dropoutSeed, firstImage: firstImage, masks: &masks)
            }
            for v in op.releases {
                pool.give(values[v]!)
                values[v] = nil
            }
        }
        return Activations(values: values, batch: batch, masks: masks)
    }
}

extension TrainingStep {
    /// What `forwardWithLoss` returns.
    typealias LossPass = (activations: Activations, loss: Double, correct: Int, dLogits: Tensor)

    /// The forward pass of a batch and its loss: the mean cross-entropy of
    /// the logits against integer `labels` (`CrossEntropy.apply`), the number
    /// of correct predictions, and the logits' gradient that `backward`
    /// takes. The input is `input` (preprocessed images) or `resume` (see
    /// `forward`). With `meanOver`, the batch is a part of a batch of that
    /// size, starting at its image `firstImage`: the loss and gradient are
    /// its share, its Dropout masks the whole batch's for its images.
    func forwardWithLoss(_ input: UnsafePointer<Float>?, resume: Tensor? = nil, labels: UnsafePointer<Int32>,
                         weights: UnsafePointer<Float>? = nil, loss crossEntropy: CrossEntropy = CrossEntropy(),
                         meanOver: Int? = nil, firstImage: Int = 0, dropoutSeed: UInt64)
        -> LossPass {
        let activations = forward(input, resume: resume, dropoutSeed: dropoutSeed, firstImage: firstImage)
        let classes = network.outputShape.reduce(1, *)
        let dLogits = Tensor(shape: [batch, classes])
        let (loss, correct) = crossEntropy.apply(logits: activations.logits.data, labels: labels, batch: batch,
                                                 classes: classes, dLogits: dLogits.data, meanOver: meanOver,
                                                 weights: weights)
        return (activations, loss, correct, dLogits)
    }
}

extension Network {
    /// The loss of one training step on `batch` preprocessed images (see
    /// `TrainingStep.forwardWithLoss`) and its gradient for every trainable
    /// weight (in layer order; BatchNormalization's moving statistics never
    /// train), without changing a weight. `dropoutSeed` fixes which values
    /// Dropout layers drop. The step's buffers come from `pool` and go back
    /// to it, except the gradients, which the caller then owns.
    /// `winogradTile` runs every 3x3 convolution with that tiling (nil: each
    /// with its own, as training does); `fused: false` runs the reference
    /// step, every layer on its own.
    public func lossAndGradients(preprocessed input: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                 batch: Int, threads: Int, dropoutSeed: UInt64 = 0, pool: TensorPool = TensorPool(),
                                 winogradTile: WinogradTile? = nil, fused: Bool = true)
        throws -> (loss: Double, correct: Int, gradients: [(weight: Tensor, gradient: Tensor)]) {
        let step = try TrainingStep(network: self, batch: batch, threads: threads, pool: pool,
                                    winogradTile: winogradTile, fusion: fused ? .fused : .unfused)
        let pass = step.forwardWithLoss(input, labels: labels, dropoutSeed: dropoutSeed)
        return (pass.loss, pass.correct, step.backward(pass.activations, dLogits: pass.dLogits))
    }
}
