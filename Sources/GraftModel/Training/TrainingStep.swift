import Glibc
import GraftFoundation
import GraftKernels

/// One training step over a network, layer by layer, as Keras's
/// `GradientTape` with `model(x, training=False)` computes it:
/// BatchNormalization always uses its moving statistics (its gamma and beta
/// train when the layer does), Dropout drops in training only.
///
/// The forward pass keeps the activations that the backward pass needs, and
/// only from the earliest layer with trainable weights on: layers before it
/// are a frozen prefix that runs forward only, and the backward pass stops
/// there (no gradient work, no stored activations for the prefix).
///
/// Which layers fuse with which (`fusedReLU`, `normalizedByAdd`,
/// `handsBackScale`), which activations are kept and for how long, and the
/// backward pass's ops (`backwardOps`: which layers get a gradient, the route
/// each takes, which sums apply a ReLU's mask) are decided once, when the
/// step is made for a network and its trainability (the trainer keeps one
/// per trainability and batch size); `Fusion.unfused` makes
/// the same step with no fusion at all, every layer computed on its own as
/// Keras's graph lists them: the readable reference the tests compare the
/// fused step against.
final class TrainingStep {
    /// Whether layers run fused with their neighbours (the speed) or each on
    /// its own (the reference).
    enum Fusion { case fused, unfused }

    let network: Network
    let threads: Int
    /// Index of the earliest layer with trainable weights.
    let start: Int
    /// The layers that read each layer's output (the network's graph).
    var consumers: [[Int]] { network.consumers }
    /// BatchNormalization and Add layers that compute the ReLU after them in
    /// their own pass, keeping only its output (`runsTheReLUAfterIt`).
    private(set) var fusedReLU: Set<Int> = []
    /// BatchNormalization layers that the Add after them applies as it reads
    /// their input; their output is never stored (`isAppliedByTheAddAfterIt`).
    private(set) var normalizedByAdd: Set<Int> = []
    /// BatchNormalization layers that hand their output gradient dY back
    /// unscaled, with their scale per channel, to the convolution before
    /// them, whose backward pass scales by it at no cost (`handsBackItsScale`).
    private(set) var handsBackScale: Set<Int> = []
    /// Layers whose output some backward pass reads (`readsInput`,
    /// `readsOwnOutput`); the forward pass releases every other output once
    /// its readers have run.
    private(set) var keptForBackward: [Bool] = []
    /// The backward pass, last layer first (`planBackward`).
    private(set) var backwardOps: [BackwardOp] = []
    /// ReLUs after an Add whose last reader masks their gradient as it sums
    /// its two terms.
    private(set) var masksSum: [Bool] = []
    /// The last layer that reads each layer's stored output in the forward
    /// pass (an Add that applies a BatchNormalization reads that layer's
    /// input); -1 for none.
    private var lastUse: [Int] = []
    /// Where the step's buffers come from and go back to (kept across steps
    /// by the caller).
    let pool: TensorPool
    /// Scratch memory of the convolutions, forward and backward: one buffer
    /// of the largest size any of them needs, shared by all.
    var workspace: Tensor?
    /// Where each layer's time goes, when set.
    var profile: LayerProfile?
    /// The Winograd tiling of every 3x3 convolution, or nil for each one's
    /// own (`Winograd3x3.tile(for:training:)`).
    let winogradTile: WinogradTile?

    init(network: Network, threads: Int, pool: TensorPool = TensorPool(), winogradTile: WinogradTile? = nil,
         fusion: Fusion = .fused) throws {
        self.network = network
        self.threads = threads
        self.pool = pool
        self.winogradTile = winogradTile
        guard let start = network.layers.firstIndex(where: { $0.trainable && !$0.weights.isEmpty }) else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before training")
        }
        self.start = start
        let consumers = network.consumers
        keptForBackward = network.layers.indices.map { j in
            j == network.layers.count - 1 || TrainingStep.readsOwnOutput(network.layers[j])
                || consumers[j].contains { TrainingStep.readsInput(network.layers[$0]) }
        }
        if fusion == .fused { decideFusions() }
        lastUse = consumers.map { $0.max() ?? -1 }
        for j in normalizedByAdd {
            let source = network.layers[j].inputs[0]
            lastUse[source] = max(lastUse[source], consumers[j][0])
        }
        (backwardOps, masksSum) = planBackward()
    }

    /// The fusions of the step, in order (each rule needs the ones before
    /// it); each rule is in the file of the layer kind it concerns.
    private func decideFusions() {
        let layers = network.layers
        fusedReLU = Set(layers.indices.filter { runsTheReLUAfterIt($0) })
        normalizedByAdd = Set(layers.indices.filter { isAppliedByTheAddAfterIt($0) })
        handsBackScale = Set(layers.indices.filter { handsBackItsScale($0) })
    }

    /// Whether a layer's backward pass reads its input: convolution and Dense
    /// for their kernel gradients, BatchNormalization for gamma's, max
    /// pooling for where the maxima were.
    private static func readsInput(_ layer: Layer) -> Bool {
        switch layer.kind {
        case .conv2D, .batchNormalization, .maxPooling2D, .dense: return true
        default: return false
        }
    }

    /// Whether a layer's backward pass reads its own output: ReLU's mask
    /// (also when fused into the layer before it).
    private static func readsOwnOutput(_ layer: Layer) -> Bool { layer.kind == .relu }

    /// The outputs of the forward pass: every layer's activation that is kept.
    struct Activations {
        var values: [Tensor?]
        let batch: Int
        /// Dropout masks (already scaled by 1/(1 − rate)), by layer.
        var masks: [Int: Tensor] = [:]
        var logits: Tensor { values.last!! }
    }

    /// Runs the network on `batch` preprocessed images. Activations of the
    /// frozen prefix are released as soon as nothing needs them.
    ///
    /// With `resume`, the pass starts after layer `resume.layer`, whose
    /// output is given (features cached from a frozen prefix); every later
    /// layer must read only it or layers after it.
    func forward(_ input: UnsafePointer<Float>?, batch: Int, training: Bool, dropoutSeed: UInt64,
                 firstImage: Int = 0, resume: (layer: Int, output: Tensor)? = nil) throws -> Activations {
        try checkMemory(batch: batch)
        let layers = network.layers
        var values = [Tensor?](repeating: nil, count: layers.count)
        var masks: [Int: Tensor] = [:]
        var first = 1
        if let resume {
            values[resume.layer] = resume.output
            first = resume.layer + 1
        } else {
            let inputTensor = pool.take([batch] + layers[0].outputShape)
            inputTensor.data.update(from: input!, count: inputTensor.count)
            values[0] = inputTensor
        }
        /// The layers whose stored outputs layer i reads: its inputs, with
        /// a BatchNormalization that an Add applies replaced by its input.
        func reads(_ i: Int) -> [Int] {
            layers[i].inputs.map { j in normalizedByAdd.contains(j) && values[j] == nil ? layers[j].inputs[0] : j }
        }
        var i = first
        while i < layers.count {
            if normalizedByAdd.contains(i) {
                i += 1
                continue
            }
            let layer = layers[i]
            let x = values[reads(i)[0]]!
            let fused = fusedReLU.contains(i)
            let out = try profile.measure(layer.name, .forward) {
                try forwardLayer(layer, index: i, x: x, values: values, batch: batch, training: training,
                                 dropoutSeed: dropoutSeed, firstImage: firstImage, masks: &masks, relu: fused)
            }
            // With a fused ReLU the output is the ReLU's, and the layer's own
            // is never stored.
            let produced = fused ? i + 1 : i
            values[produced] = out
            // An activation is dropped once its last reader has run, unless a
            // backward pass reads it: in the frozen prefix none does (an
            // Add's inputs, for one, are never read again either).
            for j in reads(i) where lastUse[j] == i && (i < start || !keptForBackward[j]) {
                if let dead = values[j], j != resume?.layer { pool.give(dead) }
                values[j] = nil
            }
            i = produced + 1
        }
        return Activations(values: values, batch: batch, masks: masks)
    }

    func isBatchNorm(_ layer: Layer) -> Bool {
        if case .batchNormalization = layer.kind { return true }
        return false
    }

    /// Refuses a batch whose stored activations could not fit in memory, with
    /// an error rather than a failed allocation deep in the pass.
    private func checkMemory(batch: Int) throws {
        let floats = network.layers[start...].reduce(0) { $0 + $1.outputShape.reduce(1, *) }
        let (total, overflow) = floats.multipliedReportingOverflow(by: batch)
        guard !overflow, total < Int.max / 8 else {
            throw GraftError(.outOfMemory, "a batch of \(batch) needs more memory than exists for its activations")
        }
    }
}

extension TrainingStep {
    /// The forward pass of a batch and its loss: the mean categorical
    /// cross-entropy of the logits against integer `labels`, the number of
    /// correct argmax predictions, and the logits' gradient that `backward`
    /// takes. The input is `input` (preprocessed images) or, with `resume`,
    /// a stored layer output (see `forward`). With `meanOver`, the batch is
    /// a part of a batch of that size, starting at its image `firstImage`:
    /// the loss and gradient are its share, its Dropout masks the whole
    /// batch's for its images.
    func forwardWithLoss(_ input: UnsafePointer<Float>?, resume: (layer: Int, output: Tensor)? = nil,
                         labels: UnsafePointer<Int32>, batch: Int, meanOver: Int? = nil, firstImage: Int = 0,
                         dropoutSeed: UInt64)
        throws -> (activations: Activations, loss: Double, correct: Int, dLogits: Tensor) {
        let activations = try forward(input, batch: batch, training: true, dropoutSeed: dropoutSeed,
                                      firstImage: firstImage, resume: resume)
        let classes = network.outputShape.reduce(1, *)
        let dLogits = Tensor(shape: [batch, classes])
        let (loss, correct) = softmaxCrossEntropy(logits: activations.logits.data, labels: labels, batch: batch,
                                                  classes: classes, dLogits: dLogits.data, meanOver: meanOver)
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
        let step = try TrainingStep(network: self, threads: threads, pool: pool, winogradTile: winogradTile,
                                    fusion: fused ? .fused : .unfused)
        let pass = try step.forwardWithLoss(input, labels: labels, batch: batch, dropoutSeed: dropoutSeed)
        return (pass.loss, pass.correct, step.backward(pass.activations, dLogits: pass.dLogits))
    }
}
