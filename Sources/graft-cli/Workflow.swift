import GraftData
import GraftFoundation
import GraftKernels
import GraftModel

/// The seed workflow that `graft train` and `graft demo` run: a folder of
/// class folders split into training and validation images; a ResNet base,
/// frozen, under a new head, trained; then optionally fine-tuned (the whole
/// base or its last N layers, recompiled with a small learning rate);
/// evaluated on a test folder if there is one; saved with its history and chart.
struct Workflow {
    var dataDirectory: String
    var testDirectory: String?
    var weights = "imagenet"
    var architecture = ResNetArchitecture.resnet50
    var imageHeight = 100, imageWidth = 100
    var batchSize = 32
    var validationSplit = 0.2
    var seed: UInt32 = 417
    /// The head; its class count is the training folder's.
    var head = HeadOptions(numClasses: 0)
    /// Whether two classes get the binary head (one logit) rather than two logits.
    var binary = false
    var augmentation: [AugmentationLayer] = []
    var optimizer = OptimizerConfig.Name.adam
    var learningRate: Float?
    /// The frozen phase's learning rate as a schedule, rather than `learningRate`.
    var schedule: LearningRateSchedule?
    var momentum: Float = 0
    /// The optimizer's weight decay (nil: its default) and clipping.
    var weightDecay: Float?
    var clipping: OptimizerConfig.Clipping?
    /// Keras's steps_per_epoch; nil: one pass per epoch.
    var stepsPerEpoch: Int?
    /// A top-k accuracy to report beside accuracy.
    var topKAccuracy: TopKAccuracy?
    var epochs = 10
    var fineTuneEpochs = 0
    /// Layers of the base unfrozen for fine-tuning, counted from its end; 0
    /// unfreezes the whole base.
    var unfreezeLast = 0
    var fineTuneLearningRate: Float = 1e-5
    /// Keras's callbacks, for both phases.
    var callbacks: [FitCallback] = []
    /// `TransferModel.microBatchSize`; nil for the engine's choice.
    var microBatchSize: Int?
    var threads = 0
    var pixelLimit = ImageDecoder.defaultPixelLimit
    var precision = Precision.float32
    /// int8's calibration images (`setPrecision`).
    var calibration: String?
    var output = "model.h5"
    var historyPath = "history.csv"
    var chartPath = "history.svg"

    /// The optimizer with `rate` (or `schedule`), else Keras's default rate
    /// for it.
    func optimizerConfig(rate: Float?, schedule: LearningRateSchedule? = nil) throws -> OptimizerConfig {
        var config = OptimizerConfig.defaults(optimizer)
        if let rate { config.learningRate = .constant(rate) }
        if let schedule { config.learningRate = .schedule(schedule) }
        switch config.algorithm {
        case .sgd(_, let nesterov): config.algorithm = .sgd(momentum: momentum, nesterov: nesterov)
        case let .rmsprop(rho, _, epsilon, centered):
            config.algorithm = .rmsprop(rho: rho, momentum: momentum, epsilon: epsilon, centered: centered)
        case .adam: break
        }
        if let weightDecay { config.weightDecay = weightDecay }
        config.clipping = clipping
        try config.validate()
        return config
    }

    func run() throws {
        var dataOptions = DatasetOptions()
        (dataOptions.imageHeight, dataOptions.imageWidth) = (imageHeight, imageWidth)
        dataOptions.batchSize = batchSize
        dataOptions.seed = seed
        dataOptions.threads = threads
        dataOptions.pixelLimit = pixelLimit
        let train: ImageDataset, validation: ImageDataset?
        if validationSplit > 0 {
            dataOptions.validationSplit = validationSplit
            (train, validation) = try ImageDataset.fromDirectorySplit(dataDirectory, options: dataOptions)
        } else {
            (train, validation) = (try ImageDataset.fromDirectory(dataDirectory, options: dataOptions), nil)
        }
        print("Found \(train.count + (validation?.count ?? 0)) files belonging to \(train.classNames.count) classes: "
              + "\(train.count) for training, \(validation?.count ?? 0) for validation.")

        var modelOptions = ModelOptions()
        modelOptions.architecture = architecture
        (modelOptions.inputHeight, modelOptions.inputWidth) = (imageHeight, imageWidth)
        modelOptions.threads = threads
        modelOptions.seed = UInt64(seed)
        switch weights {
        case "random": modelOptions.weights = .random
        case "imagenet": modelOptions.weights = .imagenet
        default: modelOptions.weights = .file(weights)
        }
        let base = try Model(modelOptions)
        print("Base: \(architecture.rawValue), weights: \(weights == "random" ? "random initialisation" : weights)")

        var head = head
        head.numClasses = train.classNames.count
        if binary {
            guard head.numClasses == 2 else {
                throw GraftError.invalidArgument("--binary needs two classes; \(dataDirectory) has \(head.numClasses)")
            }
            head.numClasses = 1
        }
        let model = try TransferModel(base: base, head: head, augmentation: augmentation, seed: UInt64(seed))
        try setPrecision(model, precision, calibration: calibration, threads: threads, pixelLimit: pixelLimit)
        try model.setMicroBatchSize(microBatchSize)
        var history = HistoryReport()

        print("\nTraining the head, base frozen:")
        model.setBaseTrainable(false)
        try model.compile(try optimizerConfig(rate: learningRate, schedule: schedule), topKAccuracy: topKAccuracy)
        history.append(try fit(model, train, validation, epochs: epochs), phase: "frozen")

        if fineTuneEpochs > 0 {
            model.setBaseTrainable(true)
            if unfreezeLast > 0 {
                guard unfreezeLast <= model.baseLayerCount else {
                    throw GraftError.invalidArgument(
                        "--unfreeze-last \(unfreezeLast) is more than the base's \(model.baseLayerCount) layers")
                }
                for i in 0..<(model.baseLayerCount - unfreezeLast) { try model.setTrainable(false, layer: i) }
            }
            let what = unfreezeLast > 0 ? "the base's last \(unfreezeLast) layers" : "the whole base"
            print("\nFine-tuning \(what), learning rate \(fineTuneLearningRate):")
            try model.compile(try optimizerConfig(rate: fineTuneLearningRate), topKAccuracy: topKAccuracy)
            history.append(try fit(model, train, validation, epochs: fineTuneEpochs), phase: "fine-tune")
        }

        if let testDirectory {
            var testOptions = dataOptions
            (testOptions.validationSplit, testOptions.subset, testOptions.shuffle) = (nil, nil, false)
            let test = try ImageDataset.fromDirectory(testDirectory, options: testOptions)
            print("\nTest (\(test.count) files):")
            var bar = ProgressBar(epochs: nil)
            let result = try model.evaluation(test) { bar.report($0) }
            bar.end()
            print("Test \(result.logs.line)")
            print("Confusion matrix (rows: true class, columns: predicted):")
            print(confusionMatrixText(result.confusionMatrix, classNames: model.classNames ?? test.classNames))
        }

        // In a group of processes, rank 0 writes the files.
        guard ProcessGroup.isPrimary else { return }
        try model.save(to: output)
        try writeText(history.csv, to: historyPath)
        try writeText(history.svg, to: chartPath)
        print("\nSaved the model to \(output), the history to \(historyPath), the chart of accuracy and loss to \(chartPath)")
    }

    private func fit(_ model: TransferModel, _ train: ImageDataset, _ validation: ImageDataset?,
                     epochs: Int) throws -> History {
        var bar = ProgressBar(epochs: epochs, note: model.featureCacheNote)
        defer { bar.end() }
        return try model.fit(train, epochs: epochs, validation: validation, stepsPerEpoch: stepsPerEpoch,
                             callbacks: callbacks) { bar.report($0) }
    }
}
