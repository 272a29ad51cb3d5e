import Dispatch
import Glibc
import GraftData
import GraftKernels

/// The new head put on the base.
public struct HeadOptions {
    public enum Pooling: String, CaseIterable { case avg, flatten }

    public var numClasses: Int
    /// GlobalAveragePooling2D (Keras's `pooling="avg"`) or Flatten.
    public var pooling: Pooling = .avg
    /// Hidden Dense layers (with ReLU) between the pooling and the output.
    public var hiddenUnits: [Int] = []
    /// Dropout rate after each hidden layer (and after the pooling when there
    /// is none); 0 for no Dropout layer.
    public var dropout: Float = 0

    public init(numClasses: Int) { self.numClasses = numClasses }
}

/// Progress of fit or evaluate, after each batch, and (fit only) once more
/// at the end of each epoch, after its validation.
public struct TrainingProgress {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    /// Running means over the epoch so far (sample-weighted, as Keras's).
    public var loss: Double, accuracy: Double
    public var elapsedSeconds: Double
    /// Whether this is the end-of-epoch report; it carries the validation
    /// figures when fit has validation data.
    public var epochEnd = false
    public var valLoss: Double?, valAccuracy: Double?
}

/// Per-epoch figures of one fit, with Keras's metric names.
public struct History {
    public var loss: [Double] = [], accuracy: [Double] = []
    public var valLoss: [Double] = [], valAccuracy: [Double] = []
    /// Whether a progress callback stopped the fit.
    public var stopped = false

    public init() {}

    public var epochs: Int { loss.count }

    /// "loss", "accuracy", "val_loss" or "val_accuracy".
    public func values(_ metric: String) -> [Double]? {
        switch metric {
        case "loss": loss
        case "accuracy": accuracy
        case "val_loss": valLoss
        case "val_accuracy": valAccuracy
        default: nil
        }
    }
}

/// A base, its preprocessing, a new head and the optimizer: Keras's
/// transfer-learning model. `layers` lists the base's layers, then the head's
/// (the output Dense last).
///
/// Thread safety: one call at a time (the C ABI and the Python package
/// serialise calls on a handle).
public final class TransferModel {
    public let base: Model
    public let network: Network
    public let head: HeadOptions
    public let augmentation: RandomFlip.Mode?
    public let seed: UInt64
    public private(set) var optimizer: Optimizer?
    /// Names of the output classes: the training folders' (adopted by the
    /// first fit on a dataset read from a directory) or set by the caller.
    public private(set) var classNames: [String]?
    /// Bytes of frozen-base features kept in memory before the cache moves to
    /// a mapped temporary file; 0 switches the cache off.
    public var featureCacheLimit = 2 << 30
    /// Times each layer of every training step and prediction while set
    /// (`LayerProfile`).
    public var profile: LayerProfile?

    private var steps = 0
    private var cache: (dataset: ObjectIdentifier, cache: FeatureCache)?
    private var validationCache: (dataset: ObjectIdentifier, cache: FeatureCache)?
    private var predictPlan: InferencePlan?
    /// The compiled frozen prefix (up to and including `layer`) for training.
    private var prefixPlan: (layer: Int, plan: InferencePlan)?
    /// Training buffers kept from step to step, for one batch size.
    private var pool = (batch: 0, tensors: TensorPool())

    public init(base: Model, head: HeadOptions, augmentation: RandomFlip.Mode? = nil, seed: UInt64 = 0) throws {
        guard head.numClasses >= 1 else {
            throw GraftError.invalidArgument("num_classes must be at least 1, not \(head.numClasses)")
        }
        guard head.hiddenUnits.allSatisfy({ $0 >= 1 }) else {
            throw GraftError.invalidArgument("hidden layer sizes must be at least 1: \(head.hiddenUnits)")
        }
        guard head.dropout >= 0 && head.dropout < 1 else {
            throw GraftError.invalidArgument("dropout must be in [0, 1), not \(head.dropout)")
        }
        self.base = base
        self.head = head
        self.augmentation = augmentation
        self.seed = seed
        var builder = NetworkBuilder(inputHeight: base.base.inputHeight, inputWidth: base.base.inputWidth,
                                     seed: seed ^ 0x5EED_0F4E_AD00_0000)
        builder.layers = base.base.layers
        var x = builder.layers.count - 1
        x = head.pooling == .avg ? builder.globalAveragePooling(x, name: "global_average_pooling2d")
                                 : builder.flatten(x, name: "flatten")
        var denseCount = 0, dropoutCount = 0
        func suffix(_ n: Int) -> String { n == 0 ? "" : "_\(n)" }
        func addDropout() {
            guard head.dropout > 0 else { return }
            x = builder.dropout(x, rate: head.dropout, name: "dropout" + suffix(dropoutCount))
            dropoutCount += 1
        }
        for units in head.hiddenUnits {
            x = builder.dense(x, units: units, name: "dense" + suffix(denseCount))
            x = builder.relu(x, name: "dense" + suffix(denseCount) + "_relu")
            denseCount += 1
            addDropout()
        }
        if head.hiddenUnits.isEmpty { addDropout() }
        _ = builder.dense(x, units: head.numClasses, name: "dense" + suffix(denseCount))
        network = builder.build()
    }

    public var layers: [Layer] { network.layers }
    public var baseLayerCount: Int { base.base.layers.count }

    /// Keras's `base.trainable = value`: every layer of the base.
    public func setBaseTrainable(_ trainable: Bool) {
        for layer in base.base.layers { layer.trainable = trainable }
        trainabilityChanged()
    }

    /// One layer of the whole model (base, then head); negative counts from the end.
    public func setTrainable(_ trainable: Bool, layer index: Int) throws {
        let i = index < 0 ? layers.count + index : index
        guard i >= 0 && i < layers.count else {
            throw GraftError.invalidArgument("layer index \(index) is out of range: the model has \(layers.count) layers")
        }
        layers[i].trainable = trainable
        trainabilityChanged()
    }

    /// The cached features are the frozen base's outputs: once the base may
    /// change, they are dropped.
    private func trainabilityChanged() {
        cache = nil
        validationCache = nil
        prefixPlan = nil
    }

    /// Forgets everything derived from the weights (compiled plans, cached
    /// features) after they were set from outside.
    public func weightsChanged() {
        trainabilityChanged()
        predictPlan = nil
        base.weightsChanged()
    }

    /// Switches the base's inference passes, and the frozen part of
    /// training, to `precision` (`ModelOptions.precision`); the compiled
    /// plans and the cached features of the old one are dropped. On a CPU
    /// that cannot run it, throws and changes nothing.
    public func setPrecision(_ precision: Precision) throws {
        try base.setPrecision(precision)
        weightsChanged()
    }

    /// Names the output classes (one per class of the head), or forgets them.
    public func setClassNames(_ names: [String]?) throws {
        if let names, names.count != head.numClasses {
            throw GraftError.invalidArgument("\(names.count) class names for a head of \(head.numClasses) classes")
        }
        classNames = names
    }

    /// Sets the optimizer, with fresh state (recompiling resets it, as in Keras).
    public func compile(_ config: OptimizerConfig) throws {
        optimizer = try Optimizer(config)
    }

    /// Index of the earliest layer with trainable weights, if any.
    var firstTrainable: Int? { layers.firstIndex { $0.trainable && !$0.weights.isEmpty } }
    /// Whether the whole base is frozen (its weights then never change).
    var baseFrozen: Bool { (firstTrainable ?? 0) >= baseLayerCount }

    /// The last layer of the frozen prefix whose output training resumes
    /// from: the layer before the first trainable one, when everything after
    /// it reads only it and later layers (as `layers[:-10]` frozen ends at the
    /// previous block's output), else nil. The prefix stops before any
    /// Dropout: that drops values in training, which the compiled prefix (an
    /// inference plan) would not, and its output is not a function of the
    /// image alone, which the cache needs.
    private func frozenBoundary() -> Int? {
        guard var boundary = firstTrainable.map({ $0 - 1 }) else { return nil }
        if let dropout = layers[...boundary].firstIndex(where: { if case .dropout = $0.kind { true } else { false } }) {
            boundary = dropout - 1
        }
        let closed = layers[(boundary + 1)...].allSatisfy { $0.inputs.allSatisfy { $0 >= boundary } }
        // A prefix without a convolution is a copy of the input: nothing to save.
        let computes = layers[...max(boundary, 0)].contains { if case .conv2D = $0.kind { true } else { false } }
        return boundary > 0 && closed && computes ? boundary : nil
    }

    /// Where fit and evaluate take cached prefix outputs from, if anywhere.
    private var cacheBoundary: Int? { featureCacheLimit > 0 ? frozenBoundary() : nil }

    // MARK: - Training

    /// Trains for `epochs` passes over `train`, evaluating on `validation`
    /// after each. `progress` is called after each batch and at the end of
    /// each epoch; returning true stops there (the history then holds the
    /// completed epochs and `stopped` is set).
    public func fit(_ train: ImageDataset, epochs: Int, validation: ImageDataset? = nil,
                    progress: ((TrainingProgress) -> Bool)? = nil) throws -> History {
        guard let optimizer else {
            throw GraftError(.state, "the model is not compiled: call compile with an optimizer before fit")
        }
        guard epochs >= 1 else { throw GraftError.invalidArgument("epochs must be at least 1, not \(epochs)") }
        // The training folders name the classes if nothing has yet; the
        // validation folders must then have the same.
        let names = classNames ?? (train.isFromDirectory ? train.classNames : nil)
        try checkDataset(train, role: "training", classNames: names)
        if let validation { try checkDataset(validation, role: "validation", classNames: names) }
        guard firstTrainable != nil else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before fit")
        }
        classNames = names
        var history = History()
        let started = DispatchTime.now().uptimeNanoseconds
        for epoch in 0..<epochs {
            var seen = 0, correct = 0, lossSum = 0.0
            let iterator = train.makeIterator(skip: alreadyCached(train, epoch: epoch))
            var step = 0
            while let batch = try iterator.next() {
                let result = try trainOnBatch(batch, of: train, epoch: epoch, optimizer: optimizer)
                seen += batch.count
                correct += result.correct
                lossSum += result.loss * Double(batch.count)
                step += 1
                let report = TrainingProgress(
                    epoch: epoch, epochs: epochs, step: step, steps: train.batchCount,
                    loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                    elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                if progress?(report) == true {
                    history.stopped = true
                    return history
                }
            }
            history.loss.append(lossSum / Double(max(seen, 1)))
            history.accuracy.append(Double(correct) / Double(max(seen, 1)))
            var report = TrainingProgress(
                epoch: epoch, epochs: epochs, step: step, steps: train.batchCount, loss: history.loss[epoch],
                accuracy: history.accuracy[epoch], elapsedSeconds: 0, epochEnd: true)
            if let validation {
                let (loss, accuracy) = try evaluate(validation)
                history.valLoss.append(loss)
                history.valAccuracy.append(accuracy)
                (report.valLoss, report.valAccuracy) = (loss, accuracy)
            }
            report.elapsedSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if progress?(report) == true {
                history.stopped = true
                return history
            }
        }
        return history
    }

    /// Refuses a dataset that does not fit the model: image size, class
    /// count, and (for folders) class names other than `classNames`.
    private func checkDataset(_ d: ImageDataset, role: String, classNames: [String]?) throws {
        guard d.imageHeight == base.base.inputHeight && d.imageWidth == base.base.inputWidth else {
            throw GraftError.invalidArgument(
                "the \(role) images are \(d.imageHeight)x\(d.imageWidth), the model takes \(base.base.inputHeight)x\(base.base.inputWidth)")
        }
        guard d.classNames.count == head.numClasses else {
            throw GraftError.invalidArgument(
                "the \(role) dataset has \(d.classNames.count) classes, the model's head has \(head.numClasses)")
        }
        guard d.count >= 1 else { throw GraftError.invalidArgument("the \(role) dataset is empty") }
        if let classNames, d.isFromDirectory, d.classNames != classNames {
            throw GraftError.invalidArgument(
                "the \(role) dataset's classes \(d.classNames) are not the model's \(classNames)")
        }
    }

    /// One optimizer step on a batch; the weights change only if the loss is finite.
    private func trainOnBatch(_ batch: Batch, of dataset: ImageDataset, epoch: Int,
                              optimizer: Optimizer) throws -> (loss: Double, correct: Int) {
        let flip = augmentation.map { RandomFlip(mode: $0, seed: seed) }
        let variants = batch.indices.map { flip?.variant(epoch: epoch, index: $0) ?? .identity }
        if pool.batch != batch.count { pool = (batch.count, TensorPool()) }
        let step = try TrainingStep(network: network, threads: base.threads, pool: pool.tensors)
        step.profile = profile
        let dropoutSeed = seed &+ UInt64(steps) &* 0x2545_F491_4F6C_DD1D
        let activations: TrainingStep.Activations
        if let boundary = cacheBoundary {
            let features = try cachedFeatures(batch, of: dataset, variants: variants, boundary: boundary)
            activations = try step.forward(nil, batch: batch.count, training: true, dropoutSeed: dropoutSeed,
                                           resume: (boundary, features))
        } else {
            let input = preprocessedBatch(batch, dataset: dataset, variants: variants)
            if let (boundary, plan) = try compiledPrefix(capacity: batch.count) {
                // The frozen prefix runs compiled (BatchNormalization folded,
                // Winograd, fused epilogues); training resumes after it.
                let output = Tensor(shape: [batch.count] + layers[boundary].outputShape)
                withExtendedLifetime(input) {
                    plan.run(input: input.data, batch: batch.count, output: output.data, profile: profile)
                }
                activations = try step.forward(nil, batch: batch.count, training: true, dropoutSeed: dropoutSeed,
                                               resume: (boundary, output))
            } else {
                activations = try withExtendedLifetime(input) {
                    try step.forward(input.data, batch: batch.count, training: true, dropoutSeed: dropoutSeed)
                }
            }
        }
        let classes = head.numClasses
        let dLogits = Tensor(shape: [batch.count, classes])
        let (loss, correct) = batch.labels.withUnsafeBufferPointer {
            softmaxCrossEntropy(logits: activations.logits.data, labels: $0.baseAddress!, batch: batch.count,
                                classes: classes, dLogits: dLogits.data)
        }
        guard loss.isFinite else {
            throw GraftError(.numeric, "the loss is \(loss) at epoch \(epoch + 1): training stopped, the weights are those from before this batch")
        }
        // Each layer steps as soon as its gradients are ready, so that those
        // of the whole network never take memory at once.
        optimizer.beginStep()
        _ = step.backward(activations, dLogits: dLogits) { optimizer.update($0, threads: self.base.threads) }
        steps += 1
        if !baseFrozen {
            base.weightsChanged()
        }
        predictPlan = nil
        return (loss, correct)
    }

    /// A compiled plan for the frozen prefix (`frozenBoundary`), if there is one.
    private func compiledPrefix(capacity: Int) throws -> (Int, InferencePlan)? {
        guard let boundary = frozenBoundary() else { return nil }
        if let existing = prefixPlan, existing.layer == boundary, existing.plan.capacity >= capacity {
            return (boundary, existing.plan)
        }
        let prefix = Network(prefixOf: network, through: boundary)
        let plan = try InferencePlan(network: prefix, capacity: max(capacity, prefixPlan?.plan.capacity ?? 0),
                                     threads: base.threads, precision: base.precision)
        prefixPlan = (boundary, plan)
        return (boundary, plan)
    }

    /// The batch's pixels, flipped as drawn, through the model's preprocessing.
    private func preprocessedBatch(_ batch: Batch, dataset: ImageDataset, variants: [RandomFlip.Variant]) -> Tensor {
        let perImage = dataset.imageFloats
        let input = Tensor(shape: [batch.count, dataset.imageHeight, dataset.imageWidth, 3])
        input.data.update(from: batch.images, count: batch.count * perImage)
        for (i, variant) in variants.enumerated() where variant != .identity {
            RandomFlip.apply(variant, to: input.data + i * perImage, height: dataset.imageHeight,
                             width: dataset.imageWidth, channels: 3)
        }
        base.preprocessing.apply(input: input.data, pixels: input.count / 3, output: input.data)
        return input
    }

    /// Which images a pass need not decode: those whose prefix output, for
    /// the flip variant epoch `epoch` draws (nil: evaluation, no flips), is
    /// in the cache already.
    private func alreadyCached(_ dataset: ImageDataset, epoch: Int?) -> ((Int) -> Bool)? {
        guard cacheBoundary != nil, let entry = epoch == nil ? validationCache : cache,
              entry.dataset == ObjectIdentifier(dataset) else { return nil }
        let store = entry.cache
        let flip = augmentation.map { RandomFlip(mode: $0, seed: seed) }
        return { index in
            let variant = epoch.flatMap { flip?.variant(epoch: $0, index: index) } ?? .identity
            return store.features(image: index, variant: store.variants == 1 ? 0 : variant.index) != nil
        }
    }

    /// The frozen prefix's output (through layer `boundary`) for the batch,
    /// from the cache where already computed (per image and flip variant),
    /// else computed now and stored.
    private func cachedFeatures(_ batch: Batch, of dataset: ImageDataset, variants: [RandomFlip.Variant],
                                boundary: Int) throws -> Tensor {
        let featureShape = layers[boundary].outputShape
        let featureFloats = featureShape.reduce(1, *)
        let isValidation = variants.isEmpty
        let id = ObjectIdentifier(dataset)
        var entry = isValidation ? validationCache : cache
        if entry?.dataset != id {
            entry = (id, try FeatureCache(images: dataset.count, variants: augmentation == nil ? 1 : 4,
                                          featureFloats: featureFloats, memoryLimit: featureCacheLimit))
            if isValidation { validationCache = entry } else { cache = entry }
        }
        let store = entry!.cache
        let variantOf = { (i: Int) -> Int in isValidation ? 0 : (store.variants == 1 ? 0 : variants[i].index) }
        let missing = batch.indices.indices.filter { store.features(image: batch.indices[$0], variant: variantOf($0)) == nil }
        if !missing.isEmpty {
            let perImage = dataset.imageFloats
            let input = Tensor(shape: [missing.count, dataset.imageHeight, dataset.imageWidth, 3])
            let output = Tensor(shape: [missing.count, featureFloats])
            for (k, i) in missing.enumerated() {
                (input.data + k * perImage).update(from: batch.images + i * perImage, count: perImage)
                if !isValidation && variants[i] != .identity {
                    RandomFlip.apply(variants[i], to: input.data + k * perImage, height: dataset.imageHeight,
                                     width: dataset.imageWidth, channels: 3)
                }
            }
            base.preprocessing.apply(input: input.data, pixels: input.count / 3, output: input.data)
            // `boundary` is frozenBoundary(), so this plan exists and ends there.
            let plan = try compiledPrefix(capacity: min(missing.count, Model.maxBatch))!.1
            withExtendedLifetime(input) {
                for start in stride(from: 0, to: missing.count, by: plan.capacity) {
                    let n = min(plan.capacity, missing.count - start)
                    plan.run(input: input.data + start * perImage, batch: n,
                             output: output.data + start * featureFloats, profile: profile)
                }
            }
            for (k, i) in missing.enumerated() {
                store.destination(image: batch.indices[i], variant: variantOf(i))
                    .update(from: output.data + k * featureFloats, count: featureFloats)
                store.markFilled(image: batch.indices[i], variant: variantOf(i))
            }
        }
        let features = Tensor(shape: [batch.count] + featureShape)
        for i in 0..<batch.count {
            (features.data + i * featureFloats).update(
                from: store.features(image: batch.indices[i], variant: variantOf(i))!, count: featureFloats)
        }
        return features
    }

    // MARK: - Inference

    /// Mean loss and accuracy over a dataset (no augmentation, no dropout).
    public func evaluate(_ dataset: ImageDataset, progress: ((TrainingProgress) -> Bool)? = nil) throws
        -> (loss: Double, accuracy: Double) {
        try checkDataset(dataset, role: "evaluation", classNames: classNames)
        var seen = 0, correct = 0, lossSum = 0.0, step = 0
        let started = DispatchTime.now().uptimeNanoseconds
        let iterator = dataset.makeIterator(skip: alreadyCached(dataset, epoch: nil))
        let classes = head.numClasses
        while let batch = try iterator.next() {
            let logits = Tensor(shape: [batch.count, classes])
            if let boundary = cacheBoundary {
                let features = try cachedFeatures(batch, of: dataset, variants: [], boundary: boundary)
                let step = try TrainingStep(network: network, threads: base.threads)
                let activations = try step.forward(nil, batch: batch.count, training: false, dropoutSeed: 0,
                                                   resume: (boundary, features))
                withExtendedLifetime(activations) {
                    logits.data.update(from: activations.logits.data, count: logits.count)
                }
            } else {
                try predict(images: batch.images, count: batch.count, logits: logits.data)
            }
            let (loss, hits) = batch.labels.withUnsafeBufferPointer {
                softmaxCrossEntropy(logits: logits.data, labels: $0.baseAddress!, batch: batch.count,
                                    classes: classes, dLogits: nil)
            }
            seen += batch.count
            correct += hits
            lossSum += loss * Double(batch.count)
            step += 1
            let report = TrainingProgress(epoch: 0, epochs: 1, step: step, steps: dataset.batchCount,
                                          loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                          elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            if progress?(report) == true { throw GraftError(.cancelled, "evaluate was stopped by its progress callback") }
        }
        return (lossSum / Double(seen), Double(correct) / Double(seen))
    }

    /// Logits for `count` RGB images with pixel values 0…255 (preprocessing
    /// inside), through the compiled network.
    public func predict(images: UnsafePointer<Float>, count: Int, logits: UnsafeMutablePointer<Float>) throws {
        let imageFloats = base.base.inputHeight * base.base.inputWidth * 3
        guard count >= 1 && count <= Int.max / (imageFloats * 4) else {
            throw GraftError.invalidArgument("image count must be from 1 to a buffer's size, not \(count)")
        }
        let capacity = min(count, Model.maxBatch)
        if predictPlan == nil || predictPlan!.capacity < capacity {
            predictPlan = try InferencePlan(network: network, capacity: capacity, threads: base.threads,
                                            precision: base.precision)
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
}
