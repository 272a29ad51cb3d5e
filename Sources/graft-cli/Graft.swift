import ArgumentParser
import CGraftABI
import Glibc
import GraftData
import GraftFoundation
import GraftKernels
import GraftModel

/// `graft`: transfer learning on ResNet from the command line.
@main
struct Graft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graft",
        abstract: "Transfer learning on a ResNet base, on the CPU.",
        version: GRAFT_VERSION,
        subcommands: [Train.self, Evaluate.self, Predict.self, Summary.self, Demo.self])
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a new head on a frozen base from a folder of class folders, then optionally fine-tune.",
        discussion: """
            Writes the model (--output: a .keras archive or an .h5 file, both of which Keras's load_model opens), \
            history.csv and an SVG chart of \
            accuracy and loss per epoch. Example, the beans workflow:
              graft train beans/train --test-dir beans/test --augmentation horizontal_and_vertical \\
                --epochs 20 --fine-tune-epochs 5 --unfreeze-last 10
            """)

    @Argument(help: "Folder with one sub-folder of images per class.")
    var dataDir: String
    @Option(help: "Folder of class folders to evaluate on at the end.")
    var testDir: String?
    @Option(help: "Base weights: a Keras .h5 file, \"imagenet\" (the standard notop file, found in $GRAFT_WEIGHTS_DIR or Keras's cache) or \"random\".")
    var weights = "imagenet"
    @Option(help: "resnet50, resnet101 or resnet152.")
    var architecture = "resnet50"
    @Option(help: "Image size: N or HEIGHTxWIDTH.")
    var imageSize = "100"
    @Option var batchSize = 32
    @Option(help: "Fraction of the images held out for validation (0: none).")
    var validationSplit = 0.2
    @Option(help: "Seed of the split, the shuffles, the head's initialisation and the flips.")
    var seed: UInt32 = 417
    @Option(help: "avg (GlobalAveragePooling2D) or flatten.")
    var pooling = "avg"
    @Option(parsing: .upToNextOption, help: "Sizes of hidden Dense layers of the head.")
    var hidden: [Int] = []
    @Option(help: "Dropout rate in the head.")
    var dropout: Float = 0
    @Flag(help: "For two classes: Keras's binary head, one logit trained with BinaryCrossentropy(from_logits=True), instead of a softmax over two.")
    var binary = false
    @Option(help: """
        Keras's augmentation layers while training, in order: e.g. flip:horizontal,rotation:0.1,zoom:0.2 \
        (flip, rotation, zoom, translation, contrast, brightness; arguments after colons in Keras's order or \
        by name, e.g. rotation:0.1:fill_mode=constant; a range as low..high). none, or a flip mode alone \
        (horizontal, vertical, horizontal_and_vertical), as before.
        """)
    var augmentation = "none"
    @Option(help: "adam, adamw, sgd or rmsprop (Keras's defaults).")
    var optimizer = "adam"
    @Option(help: "Learning rate of the frozen phase (Keras's default for the optimizer if omitted).")
    var learningRate: Float?
    @Option(help: ArgumentHelp("The frozen phase's learning rate as a Keras schedule, NAME:ARG=VALUE,...",
                               discussion: "exponential_decay, piecewise_constant_decay (boundaries and values separated by /), inverse_time_decay, polynomial_decay or cosine_decay, with Keras's argument names; initial_learning_rate defaults to the learning rate. Example: cosine_decay:decay_steps=1000,warmup_target=0.001,warmup_steps=100"))
    var learningRateSchedule: String?
    @Option(help: "SGD's and RMSprop's momentum.")
    var momentum: Float = 0
    @Option(help: "Decoupled weight decay, as Keras's weight_decay (AdamW's default 0.004, the others' none).")
    var weightDecay: Float?
    @Option(help: "Clip each gradient tensor to this L2 norm (Keras's clipnorm).")
    var clipnorm: Float?
    @Option(help: "Clip all gradients of a step together to this L2 norm (Keras's global_clipnorm).")
    var globalClipnorm: Float?
    @Option(help: "Clip each gradient element to [-value, value] (Keras's clipvalue).")
    var clipvalue: Float?
    @Option(help: "Batches per epoch (Keras's steps_per_epoch): the passes over the data end to end, an epoch ending early where a pass ends.")
    var stepsPerEpoch: Int?
    @Option(help: "Also report the top-k accuracy with this k (Keras's SparseTopKCategoricalAccuracy).")
    var topKAccuracy: Int?
    @Option(help: "Stop a phase when the monitored figure has not improved for N epochs (Keras's EarlyStopping; one instance for both phases).")
    var earlyStoppingPatience: Int?
    @Flag(help: "With --early-stopping-patience: put back the weights of the best epoch when a phase ends.")
    var restoreBestWeights = false
    @Option(help: "Multiply the learning rate by --reduce-lr-factor after N epochs without improvement (Keras's ReduceLROnPlateau).")
    var reduceLrOnPlateau: Int?
    @Option(help: "ReduceLROnPlateau's factor.")
    var reduceLrFactor = ReduceLROnPlateau.defaultFactor
    @Option(help: "ReduceLROnPlateau's lowest learning rate.")
    var minLr = 0.0
    @Option(help: "The figure the callbacks watch: val_loss (the default with validation images), loss (without), val_accuracy or accuracy.")
    var monitor: String?
    @Option(help: "Save the model after each epoch to this .keras or .h5 path, formatted as Keras's ModelCheckpoint formats it (e.g. ckpt-{epoch:02d}-{val_loss:.2f}.h5).")
    var checkpoint: String?
    @Flag(help: "With --checkpoint: save only when the monitored figure improved.")
    var checkpointBestOnly = false
    @Flag(help: "With --checkpoint: save the weights alone, in Keras 3's format (the path ends in .weights.h5).")
    var checkpointWeightsOnly = false
    @Option(help: "Write each epoch's figures to this CSV file as Keras's CSVLogger does (both phases, appended).")
    var csvLogger: String?
    @Flag(help: "End training at a loss that is not finite instead of failing (Keras's TerminateOnNaN).")
    var terminateOnNan = false
    @Option(help: "Epochs with the base frozen.")
    var epochs = 10
    @Option(help: "Epochs of fine-tuning afterwards (0: none).")
    var fineTuneEpochs = 0
    @Option(help: "Fine-tune only the base's last N layers (10: the last residual block); 0 unfreezes the whole base.")
    var unfreezeLast = 0
    @Option var fineTuneLearningRate: Float = 1e-5
    @Option(help: "The most images a training step computes at once; larger batches run in parts whose gradients are summed before one step (0: the engine's choice).")
    var microBatchSize = 0
    @Option(help: "Worker threads (0: one per core).")
    var threads = 0
    @Option(help: precisionHelp)
    var precision = "float32"
    @Option(help: calibrationHelp)
    var calibration: String?
    @Option(help: maxImagePixelsHelp)
    var maxImagePixels = ImageDecoder.defaultPixelLimit
    @Option(help: "Where to save the trained model: a .keras archive or an .h5 file (Keras's formats, chosen by the extension).")
    var output = "model.h5"
    @Option var history = "history.csv"
    @Option var chart = "history.svg"

    func run() throws {
        try joinLauncherGroup()
        var w = Workflow(dataDirectory: dataDir)
        w.testDirectory = testDir
        w.weights = weights
        guard let architecture = ResNetArchitecture(rawValue: architecture) else {
            throw GraftError.invalidArgument("unknown architecture \"\(self.architecture)\" (resnet50, resnet101, resnet152)")
        }
        w.architecture = architecture
        (w.imageHeight, w.imageWidth) = try parseSize(imageSize)
        w.batchSize = batchSize
        w.validationSplit = validationSplit
        w.seed = seed
        guard let pooling = HeadOptions.Pooling(rawValue: pooling) else {
            throw GraftError.invalidArgument("--pooling must be avg or flatten, not \"\(self.pooling)\"")
        }
        w.head.pooling = pooling
        w.head.hiddenUnits = hidden
        w.head.dropout = dropout
        w.binary = binary
        w.augmentation = try AugmentationSpec.parse(augmentation)
        guard let name = OptimizerConfig.Name(rawValue: optimizer) else {
            throw GraftError.invalidArgument("unknown optimizer \"\(optimizer)\" (adam, adamw, sgd or rmsprop)")
        }
        w.optimizer = name
        w.learningRate = learningRate
        if let learningRateSchedule {
            let rate = learningRate ?? OptimizerConfig.defaults(name).learningRate.rate(atStep: 0)
            w.schedule = try parseSchedule(learningRateSchedule, initialRate: rate)
        }
        w.momentum = momentum
        w.weightDecay = weightDecay
        let clippings: [OptimizerConfig.Clipping] = [clipnorm.map { .norm($0) }, globalClipnorm.map { .globalNorm($0) },
                                                     clipvalue.map { .value($0) }].compactMap { $0 }
        guard clippings.count <= 1 else {
            throw GraftError.invalidArgument("only one of --clipnorm, --global-clipnorm and --clipvalue can be set")
        }
        w.clipping = clippings.first
        w.topKAccuracy = topKAccuracy.map { TopKAccuracy(k: $0) }
        w.stepsPerEpoch = stepsPerEpoch
        w.callbacks = try callbacks(validation: validationSplit > 0)
        w.epochs = epochs
        w.fineTuneEpochs = fineTuneEpochs
        w.unfreezeLast = unfreezeLast
        w.fineTuneLearningRate = fineTuneLearningRate
        guard microBatchSize >= 0 else {
            throw GraftError.invalidArgument("--micro-batch-size must be 0 (the engine's choice) or more, not \(microBatchSize)")
        }
        w.microBatchSize = microBatchSize == 0 ? nil : microBatchSize
        w.threads = threads
        w.pixelLimit = maxImagePixels
        w.precision = try parsePrecision(precision)
        w.calibration = calibration
        w.output = output
        w.historyPath = history
        w.chartPath = chart
        try w.run()
    }
}

extension Train {
    /// Keras's callbacks the options ask for, one instance each for both
    /// phases (EarlyStopping starts afresh with each, as Keras's does).
    func callbacks(validation: Bool) throws -> [FitCallback] {
        let watched = Monitor(monitor ?? (validation ? "val_loss" : "loss"))
        var callbacks: [FitCallback] = []
        if let checkpoint {
            callbacks.append(try ModelCheckpoint(filepath: checkpoint, monitor: watched, saveBestOnly: checkpointBestOnly,
                                                 saveWeightsOnly: checkpointWeightsOnly))
        }
        if let earlyStoppingPatience {
            callbacks.append(EarlyStopping(monitor: watched, patience: earlyStoppingPatience,
                                           restoreBestWeights: restoreBestWeights))
        }
        if let reduceLrOnPlateau {
            var reduceMonitor = watched
            reduceMonitor.minDelta = ReduceLROnPlateau.defaultMinDelta
            callbacks.append(try ReduceLROnPlateau(monitor: reduceMonitor, factor: reduceLrFactor,
                                                   patience: reduceLrOnPlateau, minLR: minLr))
        }
        if terminateOnNan { callbacks.append(TerminateOnNaN()) }
        // Last, so that its rows hold the learning rate the others log.
        if let csvLogger {
            // One file for the run: emptied here, appended to by each phase.
            if ProcessGroup.isPrimary { try writeText("", to: csvLogger) }
            callbacks.append(CSVLogger(filename: csvLogger, append: true))
        }
        return callbacks
    }
}

let savedModelHelp: ArgumentHelp =
    "A model saved by graft train (.keras or .h5), or by Keras's model.save when Graft can build it (a ResNet base and a Dense head)."

let maxImagePixelsHelp: ArgumentHelp =
    "Images of more pixels are refused before they are decoded (the default is PIL's MAX_IMAGE_PIXELS)."

/// "100" -> (100, 100); "72x120" -> (72, 120).
func parseSize(_ text: String) throws -> (Int, Int) {
    let parts = text.split(separator: "x").map { Int($0) }
    guard (parts.count == 1 || parts.count == 2), let h = parts.first!, let w = parts.last! else {
        throw GraftError.invalidArgument("--image-size must be N or HEIGHTxWIDTH, not \"\(text)\"")
    }
    return (h, w)
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Loss and accuracy of a saved model on a folder of class folders.")

    @Argument(help: savedModelHelp)
    var model: String
    @Argument(help: "Folder with one sub-folder of images per class (the model's classes).")
    var dataDir: String
    @Option var batchSize = 32
    @Option var threads = 0
    @Option(help: precisionHelp)
    var precision = "float32"
    @Option(help: calibrationHelp)
    var calibration: String?
    @Option(help: maxImagePixelsHelp)
    var maxImagePixels = ImageDecoder.defaultPixelLimit

    func run() throws {
        try joinLauncherGroup()
        let model = try TransferModel.load(from: model, threads: threads)
        try setPrecision(model, try parsePrecision(precision), calibration: calibration, threads: threads,
                         pixelLimit: maxImagePixels)
        var options = DatasetOptions()
        (options.imageHeight, options.imageWidth) = (model.base.base.inputHeight, model.base.base.inputWidth)
        (options.batchSize, options.shuffle, options.threads) = (batchSize, false, threads)
        options.pixelLimit = maxImagePixels
        let data = try ImageDataset.fromDirectory(dataDir, options: options)
        var bar = ProgressBar(epochs: nil)
        let result = try model.evaluation(data) { bar.report($0) }
        bar.end()
        print(result.logs.line)
        print("\nConfusion matrix (rows: true class, columns: predicted):")
        print(confusionMatrixText(result.confusionMatrix, classNames: model.classNames ?? data.classNames))
    }
}

/// The confusion matrix as a table: a row per true class, a column per
/// predicted one, each headed by its class name.
func confusionMatrixText(_ matrix: [[Int]], classNames: [String]) -> String {
    let width = max(classNames.map(\.count).max() ?? 0, matrix.joined().map { String($0).count }.max() ?? 0)
    func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
    var lines = [([cell("")] + classNames.map(cell)).joined(separator: "  ")]
    for (name, row) in zip(classNames, matrix) {
        lines.append(([cell(name)] + row.map { cell(String($0)) }).joined(separator: "  "))
    }
    return lines.joined(separator: "\n")
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The most likely classes of images, with their probabilities.")

    @Argument(help: savedModelHelp)
    var model: String
    @Argument(help: "Image files (JPEG, PNG, BMP, GIF), resized to the model's input size.")
    var images: [String]
    @Option(help: "Classes to show per image.")
    var topK = 3
    @Option var threads = 0
    @Option(help: precisionHelp)
    var precision = "float32"
    @Option(help: calibrationHelp)
    var calibration: String?
    @Option(help: maxImagePixelsHelp)
    var maxImagePixels = ImageDecoder.defaultPixelLimit

    func run() throws {
        try joinLauncherGroup()
        let model = try TransferModel.load(from: model, threads: threads)
        try setPrecision(model, try parsePrecision(precision), calibration: calibration, threads: threads,
                         pixelLimit: maxImagePixels)
        let (height, width) = (model.base.base.inputHeight, model.base.base.inputWidth)
        let names = model.classNames ?? (0..<model.head.labelClasses).map { "class \($0)" }
        var pixels = [Float](repeating: 0, count: height * width * 3)
        var logits = [Float](repeating: 0, count: model.head.numClasses)
        for path in images {
            let image = try ImageDecoder.decodeFile(path, pixelLimit: maxImagePixels)
            image.pixels.withUnsafeBufferPointer { source in
                BilinearResize.resize(source.baseAddress!, height: image.height, width: image.width, channels: 3,
                                      region: .whole(height: image.height, width: image.width),
                                      outHeight: height, outWidth: width, into: &pixels)
            }
            try model.logits(images: pixels, count: 1, into: &logits)
            let probabilities = model.head.probabilities(logits: logits)
            let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(max(1, topK))
            print(path)
            for c in ranked {
                print("  \(formatFigure(probabilities[c]))  \(names[c])")
            }
        }
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The layers of a saved model, as Keras's model.summary() prints them.")

    @Argument(help: savedModelHelp)
    var model: String

    func run() throws {
        let loaded = try TransferModel.load(from: model, threads: 1)
        print(try summaryText(loaded, name: model), terminator: "")
        if let names = loaded.classNames { print(" Classes: " + names.joined(separator: ", ")) }
    }
}
