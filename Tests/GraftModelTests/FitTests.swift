import GraftData
import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// fit / evaluate / predict on a small problem: three classes of flat-coloured
// images with noise, the random-weight ResNet50 of the fixtures at 32x32.

func colourDataset(count: Int, seed: UInt32, batchSize: Int = 8) throws -> ImageDataset {
    var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }
    let colours: [[Float]] = [[220, 40, 40], [40, 200, 60], [50, 60, 210]]
    var pixels: [UInt8] = []
    var labels: [Int32] = []
    for i in 0..<count {
        let label = i % 3
        labels.append(Int32(label))
        for _ in 0..<(32 * 32) {
            for c in 0..<3 { pixels.append(UInt8(max(0, min(255, colours[label][c] + 60 * (next() - 0.5))))) }
        }
    }
    var options = DatasetOptions()
    options.batchSize = batchSize
    options.seed = seed
    return try ImageDataset.fromMemory(bytes: pixels, floats: nil, labels: labels, count: count, height: 32,
                                       width: 32, classCount: 3, options: options)
}

func transferModel(augmentation: [AugmentationLayer] = [], hidden: [Int] = [], dropout: Float = 0) throws -> TransferModel {
    var options = ModelOptions()
    options.inputHeight = 32
    options.inputWidth = 32
    options.seed = 11
    options.threads = 2
    // The random-weight fixture (BatchNormalization statistics included):
    // Keras's initialisers alone leave BatchNormalization the identity, and
    // activations grow through the 16 blocks into features of 1e15.
    options.weights = .file(try Fixtures.path("resnet50_random.h5"))
    var head = HeadOptions(numClasses: 3)
    head.hiddenUnits = hidden
    head.dropout = dropout
    return try TransferModel(base: try Model(options), head: head, augmentation: augmentation, seed: 5)
}

func allWeights(_ model: TransferModel) -> [[Float]] {
    model.layers.flatMap { $0.weights.map(\.array) }
}

@Test("the head has Keras's layers and names after the base's 175")
func headLayers() throws {
    let model = try transferModel(hidden: [16], dropout: 0.2)
    #expect(model.layers.count == 175 + 5)
    #expect(model.layers.suffix(5).map(\.name) == ["global_average_pooling2d", "dense", "dense_relu", "dropout", "dense_1"])
    #expect(model.layers.last!.weights.map(\.shape) == [[16, 3], [3]])
}

@Test("a frozen base with Adam learns the colours; training figures are epoch means")
func frozenBaseLearns() throws {
    let model = try transferModel()
    model.setBaseTrainable(false)
    try model.compile(.adam(learningRate: 0.01))
    let train = try colourDataset(count: 48, seed: 1), validation = try colourDataset(count: 24, seed: 2)
    let before = allWeights(model).prefix(318)
    let history = try model.fit(train, epochs: 6, validation: validation)
    #expect(history.epochs == 6 && history.valAccuracy.count == 6)
    #expect(history.loss.last! < history.loss.first! * 0.7, "\(history.loss)")
    #expect(history.valAccuracy.last! >= 0.9, "\(history.valAccuracy)")
    // Each pass reshuffles the validation set, so batches differ and float32
    // sums move in the last bits only.
    let (loss, accuracy) = try model.evaluate(validation)
    #expect(abs(loss - history.valLoss.last!) <= 1e-5 * history.valLoss.last! && accuracy == history.valAccuracy.last!, "\(loss) \(accuracy) vs \(history.valLoss) \(history.valAccuracy)")
    let baseUnchanged = allWeights(model).prefix(318) == before
    #expect(baseUnchanged, "a frozen layer's weights changed")
}

@Test("the feature cache gives the numbers a recomputation gives, flips included", arguments: [
    0,    // the base frozen: the cache holds the pooled features
    10,   // Keras's layers[:-10] frozen: it holds the previous block's output
])
func featureCacheIsExact(unfrozen: Int) throws {
    func train(cache: Bool) throws -> (weights: [[Float]], validation: [Double]) {
        let model = try transferModel(augmentation: [.flip(.horizontalAndVertical)], dropout: 0.3)
        model.setBaseTrainable(false)
        for i in (175 - unfrozen)..<175 { try model.setTrainable(true, layer: i) }
        model.featureCacheLimit = cache ? 1 << 30 : 0
        // Small steps: the random base's last block, unfrozen, diverges on larger ones.
        try model.compile(.sgd(learningRate: unfrozen == 0 ? 0.05 : 1e-3, momentum: 0.9))
        let history = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 3,
                                    validation: try colourDataset(count: 8, seed: 4))
        return (model.layers.suffix(unfrozen + 3).flatMap { $0.weights.map(\.array) }, history.valLoss)
    }
    let (cached, cachedValidation) = try train(cache: true), (recomputed, validation) = try train(cache: false)
    // Cached prefix outputs come from the same compiled prefix as recomputed
    // ones, so the tail sees the same inputs; only float32 summation order
    // in the batched prefix pass can differ (1e-5 relative).
    for (a, b) in zip(cachedValidation, validation) { #expect(abs(a - b) <= 1e-4 * b) }
    for (a, b) in zip(cached, recomputed) {
        let scale = b.map(abs).max()!
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "cached and recomputed heads differ by \(worst)")
    }
}

@Test("augmentation beyond flips: training images drawn anew every epoch, never cached, reproducibly; validation never augmented")
func continuousAugmentation() throws {
    let layers: [AugmentationLayer] = [.flip(.horizontal), .rotation(try RandomRotation(factor: .number(0.2))),
                                       .zoom(try RandomZoom(heightFactor: .number(0.2)))]
    let validation = try colourDataset(count: 8, seed: 4)
    func train(_ augmentation: [AugmentationLayer], cache: Bool = true) throws -> TransferModel {
        let model = try transferModel(augmentation: augmentation)
        model.setBaseTrainable(false)
        model.featureCacheLimit = cache ? 1 << 30 : 0
        try model.compile(.sgd(learningRate: 0.05))
        _ = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 2, validation: validation)
        return model
    }
    let augmented = try train(layers)
    #expect(augmented.featureCacheNote ==
        "Feature cache: off for training images (RandomRotation, RandomZoom make new images every epoch): the frozen layers run on every batch")
    // Had the first epoch's features been cached, the second would have
    // trained on them again: the run without a cache would differ.
    let same = allWeights(augmented) == allWeights(try train(layers)),
        uncached = allWeights(augmented) == allWeights(try train(layers, cache: false)),
        changed = allWeights(augmented) != allWeights(try train([]))
    #expect(same && uncached && changed)
    // Evaluation sees the images as they are: two models of the same weights,
    // one with augmentation, one without, evaluate alike.
    let plain = try transferModel()
    plain.setTrainableWeights(augmented.trainableWeights())
    let (a, b) = (try augmented.evaluate(validation), try plain.evaluate(validation))
    #expect(a.loss == b.loss && a.accuracy == b.accuracy)

    let flipping = try transferModel(augmentation: [.flip(.horizontal), .flip(.vertical)])
    flipping.setBaseTrainable(false)
    #expect(flipping.featureCacheNote == "Feature cache: on: the frozen layers run once per image and flip")
    #expect(try transferModel().featureCacheNote == nil)  // nothing frozen
    flipping.featureCacheLimit = 0
    #expect(flipping.featureCacheNote?.hasPrefix("Feature cache: off (its limit is 0)") == true)
    #expect(throws: GraftError.self) { try transferModel(augmentation: [.crop(try RandomCrop(height: 32, width: 32))]) }
}

@Test("same seed and threads: bit-identical weights after fitting the last block")
func determinism() throws {
    func run() throws -> [[Float]] {
        let model = try transferModel()
        model.setBaseTrainable(true)
        for i in 0..<(175 - 10) { try model.setTrainable(false, layer: i) }
        try model.compile(.adam(learningRate: 1e-3))
        _ = try model.fit(try colourDataset(count: 12, seed: 4, batchSize: 6), epochs: 2)
        return allWeights(model)
    }
    let first = try run(), second = try run()
    let identical = first == second
    #expect(identical)
}

@Test("stopping from the progress callback: at a batch boundary, completed epochs kept")
func stopFromProgress() throws {
    let model = try transferModel()
    model.setBaseTrainable(false)
    try model.compile(.sgd())
    let train = try colourDataset(count: 24, seed: 5)
    var calls = 0, epochEnds: [TrainingProgress] = []
    let history = try model.fit(train, epochs: 3) { progress in
        calls += 1
        #expect(progress.steps == 3 && progress.step >= 1 && progress.loss.isFinite)
        if progress.epochEnd { epochEnds.append(progress) }
        return progress.epoch == 1 && progress.step == 2
    }
    // Epoch 0: three batches and its end; epoch 1: two batches.
    #expect(history.stopped && history.epochs == 1 && calls == 6)
    #expect(epochEnds.count == 1 && epochEnds[0].step == 3 && epochEnds[0].valLoss == nil)
    #expect(epochEnds[0].loss == history.loss[0] && epochEnds[0].accuracy == history.accuracy[0])
}

@Test("bad calls: fit before compile, mismatched data, no epochs, bad learning rates, non-finite loss")
func badTrainingCalls() throws {
    let model = try transferModel()
    let train = try colourDataset(count: 6, seed: 6)
    #expect(throws: GraftError.self) { try model.fit(train, epochs: 1) }
    try model.compile(.sgd())
    #expect(throws: GraftError.self) { try model.fit(train, epochs: -1) }
    #expect(try model.fit(train, epochs: 0).epochs == 0, "Keras's fit(epochs=0) trains nothing")
    for config in [OptimizerConfig.sgd(learningRate: 0), .sgd(learningRate: .nan), .adam(learningRate: -1),
                   .adam(learningRate: .infinity)] {
        #expect(throws: GraftError.self) { try model.compile(config) }
    }
    var options = DatasetOptions()
    options.shuffle = false
    let twoClasses = try ImageDataset.fromMemory(bytes: [UInt8](repeating: 0, count: 2 * 32 * 32 * 3), floats: nil,
                                                 labels: [0, 1], count: 2, height: 32, width: 32, classCount: 2,
                                                 options: options)
    #expect(throws: GraftError.self) { try model.fit(twoClasses, epochs: 1) }
    let smaller = try ImageDataset.fromMemory(bytes: [UInt8](repeating: 0, count: 16 * 16 * 3), floats: nil,
                                              labels: [0], count: 1, height: 16, width: 16, classCount: 3,
                                              options: options)
    #expect(throws: GraftError.self) { try model.fit(smaller, epochs: 1) }

    // A NaN weight in the head makes the loss NaN: fit stops, weights as before.
    try model.compile(.sgd())
    model.setBaseTrainable(false)
    model.layers.last!.weights[1].data[0] = .nan
    let before = allWeights(model).suffix(2)
    do {
        _ = try model.fit(train, epochs: 1)
        Issue.record("a NaN loss did not stop fit")
    } catch let error as GraftError {
        #expect(error.kind == .numeric)
    }
    let after = allWeights(model).suffix(2)
    #expect(before.elementsEqual(after) { zip($0, $1).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } })
}

@Test("switching precision recomputes the cached features; switching back gives the first numbers",
      .enabled(if: PackedKernel.isAvailable(.bfloat16)))
func precisionSwitchDropsCache() throws {
    let model = try transferModel()
    model.setBaseTrainable(false)
    try model.compile(.adam())
    let data = try colourDataset(count: 16, seed: 5)
    _ = try model.fit(data, epochs: 1)
    // Evaluation reads the features cached by the fit, float32's.
    let exact = try model.evaluate(data).loss
    try model.setPrecision(.bfloat16)
    #expect(model.base.precision == .bfloat16)
    let rounded = try model.evaluate(data).loss
    // bfloat16 features move the loss by their rounding: well past float32's
    // summation-order noise (1e-6 here), well short of a wrong feature.
    #expect(abs(rounded - exact) > 1e-6 * exact && abs(rounded - exact) <= 0.05 * exact,
            "float32 \(exact), bfloat16 \(rounded)")
    try model.setPrecision(.float32)
    let again = try model.evaluate(data).loss
    #expect(abs(again - exact) <= 1e-6 * exact, "float32 \(exact) then \(again); bfloat16 \(rounded)")
}

@Test("cached features follow their dataset: a new dataset where a freed one was gets its own")
func featureCacheFollowsTheDataset() throws {
    /// Fits one epoch on each of four datasets of the same size with other
    /// images; each is freed before the next is made (its address free for
    /// the next to take) unless `keepAlive`.
    func weightsAfterFourDatasets(keepAlive: Bool) throws -> [[Float]] {
        let model = try transferModel()
        model.setBaseTrainable(false)
        try model.compile(.adam(learningRate: 0.01))
        var kept: [ImageDataset] = []
        for seed: UInt32 in [1, 9, 17, 25] {
            let dataset = try colourDataset(count: 12, seed: seed)
            _ = try model.fit(dataset, epochs: 1)
            if keepAlive { kept.append(dataset) }
        }
        return allWeights(model)
    }
    let freed = try weightsAfterFourDatasets(keepAlive: false)
    let kept = try weightsAfterFourDatasets(keepAlive: true)
    let same = freed == kept
    #expect(same, "a fit trained on features of a freed dataset")
}
