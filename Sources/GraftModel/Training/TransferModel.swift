import Dispatch
import GraftData
import GraftFoundation
import GraftKernels

/// A base, its preprocessing, a new head and the optimizer: Keras's
/// transfer-learning model. `layers` lists the base's layers, then the head's
/// (the output Dense last).
///
/// Its parts: the head (`Head.swift`), the fit loop (`Trainer.swift`), the
/// frozen prefix and its feature cache (`FrozenPrefix.swift`); this file
/// holds the model's state and everything derived from it is dropped in one
/// place, `derivedStateChanged`.
///
/// Thread safety: one call at a time (the C ABI and the Python package
/// serialise calls on a handle).
public final class TransferModel {
    public let base: Model
    public let network: Network
    public let head: HeadOptions
    /// Keras's augmentation layers, applied in order to training images
    /// (never to validation, evaluation or prediction ones).
    public let augmentation: [AugmentationLayer]
    public let seed: UInt64
    public private(set) var optimizer: Optimizer?
    /// Names of the output classes: the training folders' (adopted by the
    /// first fit on a dataset read from a directory) or set by the caller.
    public private(set) var classNames: [String]?
    /// Bytes of frozen-base features kept in memory before the cache moves to
    /// a mapped temporary file; 0 switches the cache off.
    public var featureCacheLimit: Int {
        get { frozenPrefix.cacheLimit }
        set { frozenPrefix.cacheLimit = newValue }
    }
    /// Times each layer of every training step and prediction while set
    /// (`LayerProfile`).
    public var profile: LayerProfile?
    /// The most images a training step computes at once: a larger batch
    /// runs in parts whose gradients are summed before one optimizer step,
    /// the same step as the whole batch's. nil: the engine's choice (as many
    /// images as keep `TrainingState.activationBudget` of activations).
    public private(set) var microBatchSize: Int?
    /// One Winograd tiling for every 3x3 convolution that trains, or nil
    /// (the default) for each one's own, chosen by the size of the batch (or
    /// part) for speed. Forced, a training step's numbers do not depend on
    /// how its batch is cut into parts.
    public var winogradTile: WinogradTile?

    /// `augmentation` with its draws from `seed`, nil without layers.
    let trainingAugmentation: Augmentation?
    let frozenPrefix: FrozenPrefix
    let training = TrainingState()
    /// The whole network, and the layers after the frozen prefix, compiled
    /// for inference (predict, and evaluate on cached features).
    private var predictPlan: InferencePlan?
    private var suffixPlan: (after: Int, plan: InferencePlan)?

    /// Throws for RandomCrop among the augmentation layers: it changes the
    /// images' size, which the base fixes.
    public init(base: Model, head: HeadOptions, augmentation: [AugmentationLayer] = [], seed: UInt64 = 0) throws {
        if augmentation.contains(where: { if case .crop = $0 { true } else { false } }) {
            throw GraftError.invalidArgument(
                "RandomCrop cannot be part of the model's augmentation: it changes the images' size, and the base takes \(base.base.inputHeight)x\(base.base.inputWidth) images; crop them before (graft.layers.RandomCrop) or read them at that size")
        }
        self.base = base
        self.head = head
        self.augmentation = augmentation
        self.seed = seed
        network = try Network.withHead(head, on: base.base, seed: seed)
        trainingAugmentation = augmentation.isEmpty ? nil : Augmentation(layers: augmentation, seed: seed)
        frozenPrefix = FrozenPrefix(network: network, base: base, augmentation: trainingAugmentation)
    }

    /// Keras's names of the augmentation layers (`random_flip`,
    /// `random_rotation`, `random_flip_1`, ...), as a model of them names them.
    public var augmentationLayerNames: [String] {
        var keys = KerasKeys()
        return augmentation.map { keys.next($0.kerasClassName) }
    }

    /// `model.summary()`: the layers, the augmentation's after the input.
    public func summary(options: SummaryOptions = SummaryOptions()) throws -> String {
        try summaryText(layers, augmentation: Array(zip(augmentationLayerNames, augmentation.map(\.kerasClassName))),
                        options: options)
    }

    /// What fit's verbose output says of the feature cache before the first
    /// epoch of a model with augmentation: whether the frozen layers' output
    /// is computed once per image and flip and reused, or on every batch.
    /// nil without augmentation (the cache is then on, and fit prints what
    /// Keras prints) or when no frozen layers come first.
    public var featureCacheNote: String? {
        guard let augmentation = trainingAugmentation, frozenPrefix.boundary != nil else { return nil }
        if featureCacheLimit == 0 {
            return "Feature cache: off (its limit is 0): the frozen layers run on every batch"
        }
        if augmentation.hasFiniteOutcomes {
            return "Feature cache: on: the frozen layers run once per image and flip"
        }
        let drawn = augmentation.layers.filter { !$0.hasFiniteOutcomes }.map(\.kerasClassName)
        return "Feature cache: off for training images (\(drawn.joined(separator: ", ")) make new images every epoch): the frozen layers run on every batch"
    }

    public var layers: [Layer] { network.layers }
    public var baseLayerCount: Int { base.base.layers.count }

    /// Keras's `base.trainable = value`: every layer of the base.
    public func setBaseTrainable(_ trainable: Bool) {
        for layer in base.base.layers { layer.trainable = trainable }
        derivedStateChanged(.trainability)
    }

    /// One layer of the whole model (base, then head); negative counts from the end.
    public func setTrainable(_ trainable: Bool, layer index: Int) throws {
        let i = index < 0 ? layers.count + index : index
        guard i >= 0 && i < layers.count else {
            throw GraftError.invalidArgument("layer index \(index) is out of range: the model has \(layers.count) layers")
        }
        layers[i].trainable = trainable
        derivedStateChanged(.trainability)
    }

    /// The weights of the layers that train, layer by layer (what a fit can
    /// change; EarlyStopping keeps its best epoch's).
    public func trainableWeights() -> [[[Float]]] {
        layers.map { $0.trainable ? $0.weights.map(\.array) : [] }
    }

    /// Puts back weights `trainableWeights` gave, with the same layers
    /// training.
    public func setTrainableWeights(_ weights: [[[Float]]]) {
        precondition(weights.count == layers.count, "weights of another model")
        for (layer, values) in zip(layers, weights) {
            for (weight, value) in zip(layer.weights, values) { weight.data.update(from: value, count: weight.count) }
        }
        derivedStateChanged(.trainingStep)
    }

    /// Forgets everything derived from the weights (compiled plans, cached
    /// features) after they were set from outside.
    public func weightsChanged() {
        derivedStateChanged(.weights)
    }

    /// Switches the base's inference passes, and the frozen part of
    /// training, to `precision` (`ModelOptions.precision`); the compiled
    /// plans and the cached features of the old one are dropped. On a CPU
    /// that cannot run it, throws and changes nothing.
    public func setPrecision(_ precision: Precision) throws {
        try base.setPrecision(precision)
        derivedStateChanged(.weights)
    }

    /// Measures the base's activation ranges for int8 with `calibrate`
    /// (one of `Model.calibrate`'s forms, on the base); the compiled plans
    /// and the cached features are dropped.
    public func calibrateBase(_ calibrate: (Model) throws -> Void) throws {
        try calibrate(base)
        derivedStateChanged(.weights)
    }

    /// Names the output classes (one per class of the head), or forgets them.
    public func setClassNames(_ names: [String]?) throws {
        if let names, names.count != head.labelClasses {
            throw GraftError.invalidArgument("\(names.count) class names for a head of \(head.labelClasses) classes")
        }
        classNames = names
    }

    /// Sets the micro-batch size (`microBatchSize`; nil for the engine's).
    public func setMicroBatchSize(_ size: Int?) throws {
        if let size, size < 1 {
            throw GraftError.invalidArgument("the micro-batch size must be at least 1 (or the engine's choice), not \(size)")
        }
        microBatchSize = size
    }

    /// Sets the optimizer, with fresh state (recompiling resets it, as in
    /// Keras), the loss, and the top-k accuracy fit and evaluate report
    /// beside accuracy (nil: none). Refused inside a fit's callback: the fit
    /// steps with the optimizer it started with.
    public func compile(_ config: OptimizerConfig, loss: CrossEntropy = CrossEntropy(),
                        topKAccuracy: TopKAccuracy? = nil) throws {
        guard !isFitting else { throw GraftError(.state, "compile cannot run inside a fit's callback: compile before or after the fit") }
        try loss.validate()
        try topKAccuracy?.validate()
        if topKAccuracy != nil && head.isBinary {
            throw GraftError.invalidArgument("a top-k accuracy needs a head of several classes; the binary head has one logit")
        }
        optimizer = try Optimizer(config)
        self.loss = loss
        self.topKAccuracy = topKAccuracy
    }

    /// The loss of the last compile.
    public private(set) var loss = CrossEntropy()
    /// The top-k accuracy of the last compile.
    public private(set) var topKAccuracy: TopKAccuracy?

    /// Whether a fit is running (its callbacks may call the model).
    var isFitting = false

    /// Whether the processes of a group were found to hold the same weights
    /// (`joinGroup`): the steps they take together keep them so, weights set
    /// from outside may not.
    var weightsAgreedInGroup = false

    /// What changed, for `derivedStateChanged`.
    enum Change {
        /// Which layers train: the compiled step and the frozen prefix.
        case trainability
        /// Weights set from outside, or the precision: every compiled plan
        /// and cached feature.
        case weights
        /// One optimizer step: the weights of the trainable layers only.
        case trainingStep
    }

    /// Drops what `change` makes stale; the one place that does.
    func derivedStateChanged(_ change: Change) {
        switch change {
        case .trainability:
            training.invalidate()
            frozenPrefix.invalidate()
            suffixPlan = nil
        case .weights:
            weightsAgreedInGroup = false
            training.invalidate()
            frozenPrefix.invalidate()
            predictPlan = nil
            suffixPlan = nil
            base.weightsChanged()
        case .trainingStep:
            // The frozen prefix (and its cache) is untouched by a step.
            predictPlan = nil
            suffixPlan = nil
            if (network.firstTrainable ?? 0) < baseLayerCount { base.weightsChanged() }
        }
    }

    /// Called after each optimizer step.
    func trainedOneStep() { derivedStateChanged(.trainingStep) }

    // MARK: - Inference

    /// Mean loss and accuracy over a dataset (no augmentation, no dropout).
    public func evaluate(_ dataset: ImageDataset, progress: ((TrainingProgress) -> Bool)? = nil) throws
        -> (loss: Double, accuracy: Double) {
        let figures = try evaluationFigures(dataset, progress: progress).figures
        return (figures.loss, figures.accuracy)
    }

    /// What `evaluate` measures (and the top-k accuracy when compiled in),
    /// under Keras's names in Keras's order, and the confusion matrix:
    /// images of class i (row) predicted as class j (column), as
    /// tf.math.confusion_matrix counts them (two classes for the binary
    /// head, predicted as its accuracy predicts).
    public func evaluation(_ dataset: ImageDataset, progress: ((TrainingProgress) -> Bool)? = nil) throws
        -> (logs: Logs, confusionMatrix: [[Int]]) {
        let result = try evaluationFigures(dataset, progress: progress)
        return (Logs(result.figures.logs()), result.confusionMatrix)
    }

    /// The running figures of one pass over `dataset` at its end, and the
    /// confusion matrix (fit's validation reads the figures).
    func evaluationFigures(_ dataset: ImageDataset, progress: ((TrainingProgress) -> Bool)? = nil) throws
        -> (figures: RunningFigures, confusionMatrix: [[Int]]) {
        try checkDataset(dataset, role: "evaluation", classNames: classNames)
        // In a group, each process evaluates its shard of every batch, and
        // the group sums the figures batch by batch (`DistributedFit`).
        let group = distributedGroup
        if let group, !isFitting { try joinGroup(group, datasets: [("evaluation", dataset)], pass: 0) }
        var figures = RunningFigures(topK: topKAccuracy), step = 0
        let labelClasses = head.labelClasses
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labelClasses), count: labelClasses)
        let started = DispatchTime.now().uptimeNanoseconds
        let iterator = dataset.makeIterator(skip: frozenPrefix.alreadyCached(dataset, pass: nil), shard: group?.shard)
        while let batch = try iterator.next() {
            // A process's shard of a batch can be empty: it adds nothing.
            let (loss, hits, topKHits) = batch.count > 0 ? try batchFigures(batch, in: dataset, confusion: &confusion)
                : (0, 0, 0)
            if let group {
                try figures.addGroupFigures(count: batch.count, loss: loss, correct: hits, topKHits: topKHits, group)
            } else {
                figures.add(count: batch.count, loss: loss, correct: hits, topKHits: topKHits)
            }
            step += 1
            let report = figures.progress(epoch: 0, epochs: 1, step: step, steps: dataset.batchCount,
                                          elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            if try anyProcess(progress?(report) == true, group, what: "the decision to stop") {
                throw GraftError(.cancelled, "evaluate was stopped by its progress callback")
            }
        }
        if let group {
            let summed = try group.sum(confusion.flatMap { $0.map(Double.init) }, what: "the confusion matrix")
            confusion = (0..<labelClasses).map { row in (0..<labelClasses).map { Int(summed[row * labelClasses + $0]) } }
        }
        guard figures.seen > 0 else { throw ImageDataset.nothingRead(role: "evaluation") }
        return (figures, confusion)
    }

    /// A batch's mean loss, hits and top-k hits, its predictions counted
    /// into `confusion`.
    private func batchFigures(_ batch: Batch, in dataset: ImageDataset, confusion: inout [[Int]]) throws
        -> (loss: Double, hits: Int, topKHits: Int) {
        let classes = head.numClasses
        let logits = Tensor(shape: [batch.count, classes])
        if let boundary = frozenPrefix.cacheBoundary {
            // The cached prefix's output through the rest, compiled.
            let features = try frozenPrefix.features(batch, of: dataset, pass: nil, profile: profile)
            let plan = try compiledSuffix(after: boundary, capacity: batch.count)
            withExtendedLifetime(features) {
                plan.run(inputs: features.data, count: batch.count, outputs: logits.data, profile: profile)
            }
        } else {
            try self.logits(images: batch.images, count: batch.count, into: logits.data)
        }
        for (n, label) in batch.labels.enumerated() {
            confusion[Int(label)][loss.predictedClass(logits: logits.data + n * classes, classes: classes)] += 1
        }
        return batch.labels.withUnsafeBufferPointer { labels in
            let (loss, hits) = self.loss.apply(logits: logits.data, labels: labels.baseAddress!, batch: batch.count,
                                               classes: classes, dLogits: nil)
            let topKHits = topKAccuracy?.hits(logits: logits.data, labels: labels.baseAddress!, batch: batch.count,
                                              classes: classes) ?? 0
            return (loss, hits, topKHits)
        }
    }

    /// What Keras's `predict` gives for `count` RGB images with pixel values
    /// 0…255: the logits, through the output Dense's activation when the
    /// model has one (`HeadOptions.outputActivation`).
    public func predict(images: UnsafePointer<Float>, count: Int, outputs: UnsafeMutablePointer<Float>) throws {
        try logits(images: images, count: count, into: outputs)
        head.outputActivation.apply(to: outputs, rows: count, units: head.numClasses)
    }

    /// Logits for `count` RGB images with pixel values 0…255 (preprocessing
    /// inside), through the compiled network.
    public func logits(images: UnsafePointer<Float>, count: Int, into logits: UnsafeMutablePointer<Float>) throws {
        let imageFloats = base.base.inputHeight * base.base.inputWidth * 3
        guard count >= 1 && count <= Int.max / (imageFloats * 4) else {
            throw GraftError.invalidArgument("image count must be from 1 to a buffer's size, not \(count)")
        }
        let capacity = min(count, Model.maxBatch)
        if predictPlan == nil || predictPlan!.capacity < capacity {
            predictPlan = try InferencePlan(network: network, capacity: capacity, threads: base.threads,
                                            precision: base.precision, calibration: base.calibration)
        }
        let plan = predictPlan!
        let staging = Tensor(shape: [plan.capacity * plan.inputSize])
        withExtendedLifetime(staging) {
            for start in stride(from: 0, to: count, by: plan.capacity) {
                let n = min(plan.capacity, count - start)
                base.preprocessing.apply(input: images + start * plan.inputSize, pixels: n * plan.inputSize / 3,
                                         output: staging.data)
                plan.run(input: staging.data, batch: n, output: logits + start * plan.outputSize, profile: profile)
            }
        }
    }

    /// The layers after `boundary` compiled for inference, for batches of
    /// up to `capacity` images (at most `Model.maxBatch`).
    private func compiledSuffix(after boundary: Int, capacity: Int) throws -> InferencePlan {
        let capacity = min(capacity, Model.maxBatch)
        if let suffixPlan, suffixPlan.after == boundary, suffixPlan.plan.capacity >= capacity { return suffixPlan.plan }
        let plan = try InferencePlan(network: Network(suffixOf: network, after: boundary), capacity: capacity,
                                     threads: base.threads, precision: base.precision,
                                     calibration: base.calibration)
        suffixPlan = (boundary, plan)
        return plan
    }
}
