import GraftData
import GraftFoundation
import GraftKernels

/// The frozen start of a network in training: where it ends, its compiled
/// inference plan, and the policy that caches its output per image.
///
/// Layers before the first trainable one never change during a fit, so
/// training runs them as an inference plan (BatchNormalization folded,
/// Winograd, fused epilogues) and resumes after them; while they are a pure
/// function of the image, their output is cached per image (and per flip
/// variant) so that only the first epoch computes it. An augmentation with
/// infinitely many outcomes (a rotation's angle, ...) leaves nothing to reuse:
/// training images then run through the prefix every time (validation
/// images, never augmented, are still cached). The caches are keyed by
/// the dataset's `generation`, never by its address, and dropped by
/// `invalidate` when trainability, weights or precision change.
final class FrozenPrefix {
    private let network: Network
    private let base: Model
    /// The training images' augmentation (applied by the data pipeline).
    private let augmentation: Augmentation?
    /// Bytes of features kept in memory before a cache moves to a mapped
    /// temporary file; 0 switches caching off.
    var cacheLimit = 2 << 30

    private var trainingCache: (dataset: Int, cache: FeatureCache)?
    private var decodedTraining: DecodedImageCache?
    private var validationCache: (dataset: Int, cache: FeatureCache)?
    /// The compiled prefix, through layer `layer`.
    private var plan: (layer: Int, plan: InferencePlan)?

    init(network: Network, base: Model, augmentation: Augmentation?) {
        self.network = network
        self.base = base
        self.augmentation = augmentation
    }

    /// Forgets the plan and the cached features: the prefix's trainability,
    /// weights or precision changed.
    func invalidate() {
        trainingCache = nil
        validationCache = nil
        plan = nil
    }

    private var layers: [Layer] { network.layers }

    /// The last layer of the frozen prefix that training resumes from: the
    /// layer before the first trainable one, when everything after it reads
    /// only it and later layers (as `layers[:-10]` frozen ends at the
    /// previous block's output), else nil. The prefix stops before any
    /// Dropout: that drops values in training, which the compiled prefix (an
    /// inference plan) would not, and its output is not a function of the
    /// image alone, which the cache needs.
    var boundary: Int? {
        guard var boundary = network.firstTrainable.map({ $0 - 1 }) else { return nil }
        if let dropout = layers[...boundary].firstIndex(where: { if case .dropout = $0.kind { true } else { false } }) {
            boundary = dropout - 1
        }
        let closed = layers[(boundary + 1)...].allSatisfy { $0.inputs.allSatisfy { $0 >= boundary } }
        // A prefix without a convolution is a copy of the input: nothing to save.
        let computes = layers[...max(boundary, 0)].contains { if case .conv2D = $0.kind { true } else { false } }
        return boundary > 0 && closed && computes ? boundary : nil
    }

    /// Where evaluate takes cached prefix outputs from, if anywhere.
    var cacheBoundary: Int? { cacheLimit > 0 ? boundary : nil }

    /// Whether training images' outputs can be cached: without
    /// augmentation, or with flips alone (four variants per image).
    var cachesTraining: Bool { augmentation?.hasFiniteOutcomes ?? true }

    /// Where fit takes cached prefix outputs from, if anywhere.
    var trainingCacheBoundary: Int? { cachesTraining ? cacheBoundary : nil }

    /// For training passes whose prefix outputs cannot be cached (an
    /// augmentation with infinitely many outcomes): the training images as
    /// decoded, before the augmentation, kept from the first epoch for the
    /// next ones within `cacheLimit`. nil when the prefix outputs are cached,
    /// nothing is frozen, or the images do not fit.
    func decodedImages(_ dataset: ImageDataset) -> DecodedImageCache? {
        guard !cachesTraining, cacheBoundary != nil else {
            decodedTraining = nil  // their memory goes as soon as a fit does not use them
            return nil
        }
        if decodedTraining?.dataset != dataset.generation {
            decodedTraining = DecodedImageCache(for: dataset, memoryLimit: cacheLimit)
        }
        return decodedTraining
    }

    /// The cache slot of image `index` in data pass `pass` (nil: evaluation).
    private func variant(of index: Int, pass: Int?) -> Int {
        guard let pass, let augmentation else { return 0 }
        return augmentation.flipVariant(epoch: pass, index: index)!.index
    }

    /// The compiled prefix for batches of up to `capacity` images, if there
    /// is a prefix.
    func compiled(capacity: Int) throws -> (layer: Int, plan: InferencePlan)? {
        guard let boundary else { return nil }
        if let plan, plan.layer == boundary, plan.plan.capacity >= capacity { return plan }
        let prefix = Network(prefixOf: network, through: boundary)
        let compiled = try InferencePlan(network: prefix, capacity: max(capacity, plan?.plan.capacity ?? 0),
                                         threads: base.threads, precision: base.precision,
                                         calibration: base.calibration)
        plan = (boundary, compiled)
        return plan
    }

    /// Which images of a pass need not be decoded: those whose prefix
    /// output, for the flip variant data pass `pass` draws (nil: evaluation,
    /// no augmentation), is cached already.
    func alreadyCached(_ dataset: ImageDataset, pass: Int?) -> ((Int) -> Bool)? {
        guard (pass == nil ? cacheBoundary : trainingCacheBoundary) != nil,
              let entry = pass == nil ? validationCache : trainingCache,
              entry.dataset == dataset.generation else { return nil }
        let store = entry.cache
        return { index in store.features(image: index, variant: self.variant(of: index, pass: pass)) != nil }
    }

    /// The prefix's output (through `cacheBoundary`) for the batch of data
    /// pass `pass` (nil: evaluation), whose images come augmented from the
    /// pipeline, from the cache where already computed (the flip variant
    /// the pass draws names the slot), else computed now and stored.
    func features(_ batch: Batch, of dataset: ImageDataset, pass: Int?, profile: LayerProfile?) throws -> Tensor {
        guard let boundary = pass == nil ? cacheBoundary : trainingCacheBoundary else {
            preconditionFailure("no cached prefix")
        }
        let featureShape = layers[boundary].outputShape
        let featureFloats = featureShape.reduce(1, *)
        let isValidation = pass == nil
        var entry = isValidation ? validationCache : trainingCache
        if entry?.dataset != dataset.generation {
            let variants = isValidation || augmentation == nil ? 1 : 4
            entry = (dataset.generation, try FeatureCache(images: dataset.count, variants: variants,
                                                          featureFloats: featureFloats, memoryLimit: cacheLimit))
            if isValidation { validationCache = entry } else { trainingCache = entry }
        }
        let store = entry!.cache
        let variantOf = { (i: Int) -> Int in self.variant(of: batch.indices[i], pass: pass) }
        let missing = batch.indices.indices.filter { store.features(image: batch.indices[$0], variant: variantOf($0)) == nil }
        if !missing.isEmpty {
            let input = preprocessed(batch, of: dataset, images: missing)
            let output = Tensor(shape: [missing.count, featureFloats])
            // `boundary` is cacheBoundary, so this plan exists and ends there.
            let plan = try compiled(capacity: min(missing.count, Model.maxBatch))!.plan
            withExtendedLifetime(input) {
                plan.run(inputs: input.data, count: missing.count, outputs: output.data, profile: profile)
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

    /// Images `images` of the batch (positions in it; all by default)
    /// through the model's preprocessing.
    func preprocessed(_ batch: Batch, of dataset: ImageDataset, images: [Int]? = nil) -> Tensor {
        let positions = images ?? Array(0..<batch.count)
        let perImage = dataset.imageFloats
        let input = Tensor(shape: [positions.count, dataset.imageHeight, dataset.imageWidth, 3])
        for (k, i) in positions.enumerated() {
            (input.data + k * perImage).update(from: batch.images + i * perImage, count: perImage)
        }
        base.preprocessing.apply(input: input.data, pixels: input.count / 3, output: input.data)
        return input
    }
}

extension Network {
    /// Index of the earliest layer with trainable weights, if any.
    var firstTrainable: Int? { layers.firstIndex { $0.trainable && !$0.weights.isEmpty } }
}
