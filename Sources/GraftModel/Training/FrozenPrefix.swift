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
    /// The training cache's slots (image, variant) the last batch computed
    /// here, for the other processes of a group (`shareComputed`).
    private var computedForBatch: [(image: Int, variant: Int)] = []
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
        let store = try cache(of: dataset, validation: pass == nil, boundary: boundary)
        let variantOf = { (i: Int) -> Int in self.variant(of: batch.indices[i], pass: pass) }
        let missing = batch.indices.indices.filter { store.features(image: batch.indices[$0], variant: variantOf($0)) == nil }
        if pass != nil { computedForBatch = missing.map { (batch.indices[$0], variantOf($0)) } }
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

    /// The training (or validation) cache of `dataset`, made when missing.
    private func cache(of dataset: ImageDataset, validation: Bool, boundary: Int) throws -> FeatureCache {
        if let entry = validation ? validationCache : trainingCache, entry.dataset == dataset.generation {
            return entry.cache
        }
        let variants = validation || augmentation == nil ? 1 : 4
        let cache = try FeatureCache(images: dataset.count, variants: variants,
                                     featureFloats: layers[boundary].outputShape.reduce(1, *), memoryLimit: cacheLimit)
        if validation { validationCache = (dataset.generation, cache) } else { trainingCache = (dataset.generation, cache) }
        return cache
    }

    /// In a group of processes, after each training batch (every process,
    /// its part of the batch empty or not): the features this process
    /// computed for its part go to the others, and theirs into this
    /// process's cache. Every cache then holds what one process's would, so
    /// that later epochs, whose parts differ (a new shuffle), compute none.
    func shareComputed(with group: ProcessGroup, dataset: ImageDataset) throws {
        guard let boundary = trainingCacheBoundary else { return }
        let store = try cache(of: dataset, validation: false, boundary: boundary)
        let mine = computedForBatch
        computedForBatch = []
        let counts = try group.gather(withUnsafeBytes(of: Int64(mine.count).littleEndian) { Array($0) },
                                      what: "the count of features computed")
            .map { bytes in Int(bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }) }
        let most = counts.max() ?? 0
        guard most > 0 else { return }
        // Records of (image, variant, features), as many as the most any
        // process computed (the gather takes one size from all).
        let floats = store.featureFloats
        let record = 2 * MemoryLayout<Int32>.size + floats * MemoryLayout<Float>.size
        var block = [UInt8](repeating: 0, count: most * record)
        block.withUnsafeMutableBytes { out in
            for (k, slot) in mine.enumerated() {
                let at = out.baseAddress! + k * record
                at.storeBytes(of: Int32(slot.image), as: Int32.self)
                at.storeBytes(of: Int32(slot.variant), toByteOffset: 4, as: Int32.self)
                (at + 8).copyMemory(from: store.features(image: slot.image, variant: slot.variant)!,
                                    byteCount: floats * MemoryLayout<Float>.size)
            }
        }
        let all = try group.gather(block, what: "the features computed")
        for (rank, theirs) in all.enumerated() where rank != group.rank {
            theirs.withUnsafeBytes { records in
                for k in 0..<counts[rank] {
                    let at = records.baseAddress! + k * record
                    let image = Int(at.loadUnaligned(as: Int32.self))
                    let variant = Int(at.loadUnaligned(fromByteOffset: 4, as: Int32.self))
                    guard (0..<store.images).contains(image), (0..<store.variants).contains(variant),
                          store.features(image: image, variant: variant) == nil else { continue }
                    UnsafeMutableRawPointer(store.destination(image: image, variant: variant))
                        .copyMemory(from: at + 8, byteCount: floats * MemoryLayout<Float>.size)
                    store.markFilled(image: image, variant: variant)
                }
            }
        }
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
