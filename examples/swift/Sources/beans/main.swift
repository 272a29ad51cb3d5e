// The beans workflow on Graft's Swift API, as Keras's transfer-learning
// guide writes it (the Keras lines quoted beside the calls that do them):
// RandomFlip, a frozen ResNet50 base under a new head trained with Adam, then
// the base's last residual block unfrozen and trained with Adam(1e-5); the
// test accuracy; the model saved, loaded back and evaluated again.
//
//   swift run -c release beans DATA_DIR WEIGHTS [--image-size 100] [--batch-size 128]
//                                                [--epochs 20] [--fine-tune-epochs 5]
//
// DATA_DIR holds train/ and test/, one sub-folder per class; WEIGHTS is a
// Keras weight file, "imagenet" or "random".
import Foundation
import Graft

struct Arguments {
    var dataDirectory = "", weights = ResNetBase.Weights.random
    var imageSize = 100, batchSize = 128, epochs = 20, fineTuneEpochs = 5

    init(_ arguments: [String]) throws {
        let usage = "usage: beans DATA_DIR WEIGHTS [--image-size N] [--batch-size N] [--epochs N] [--fine-tune-epochs N]"
        var positional: [String] = [], rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else { positional.append(argument); continue }
            guard let text = rest.popFirst(), let value = Int(text) else { throw ExampleError(usage) }
            switch argument {
            case "--image-size": imageSize = value
            case "--batch-size": batchSize = value
            case "--epochs": epochs = value
            case "--fine-tune-epochs": fineTuneEpochs = value
            default: throw ExampleError(usage)
            }
        }
        guard positional.count == 2 else { throw ExampleError(usage) }
        dataDirectory = positional[0]
        switch positional[1] {
        case "imagenet": weights = .imagenet
        case "random": weights = .random
        default: weights = .file(positional[1])
        }
    }
}

struct ExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func printEpochs(_ progress: FitProgress) {
    guard progress.isEpochEnd else { return }
    let validation = progress.valAccuracy.map { String(format: " - val_accuracy: %.4f", $0) } ?? ""
    print(String(format: "Epoch %d/%d - loss: %.4f - accuracy: %.4f", progress.epoch, progress.epochs,
                 progress.loss, progress.accuracy) + validation)
}

func run(_ arguments: Arguments) throws {
    print("Graft \(Graft.version)")
    let size = ImageSize(arguments.imageSize)
    // train_ds, val_ds = keras.utils.image_dataset_from_directory(
    //     "train", validation_split=0.25, subset="both", seed=417, image_size=..., batch_size=...)
    let (train, validation) = try ImageDataset.fromDirectory(arguments.dataDirectory + "/train", validationSplit: 0.25,
                                                             seed: 417, imageSize: size, batchSize: arguments.batchSize)
    let test = try ImageDataset.fromDirectory(arguments.dataDirectory + "/test", imageSize: size,
                                              batchSize: arguments.batchSize, shuffle: false)
    print("classes: \(train.classNames.joined(separator: ", ")); \(train.count) training, "
          + "\(validation.count) validation and \(test.count) test images")

    // base = keras.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(h, w, 3))
    let base = try ResNetBase(.resnet50, weights: arguments.weights, inputSize: size)
    // x = RandomFlip("horizontal_and_vertical")(inputs); x = base(preprocess_input(x), training=False)
    // x = GlobalAveragePooling2D()(x); outputs = Dense(len(class_names))(x)
    let model = try TransferModel(base: base, numClasses: train.classNames.count, augmentation: "horizontal_and_vertical",
                                  seed: 417)

    // base.trainable = False; model.compile(optimizer=Adam(), ...); model.fit(train_ds, epochs=20, ...)
    print("1. the head, base frozen")
    model.setBaseTrainable(false)
    try model.compile(optimizer: .adam())
    try model.fit(train, epochs: arguments.epochs, validationData: validation, progress: printEpochs)

    // base.trainable = True; for layer in base.layers[:-10]: layer.trainable = False
    // model.compile(optimizer=Adam(1e-5), ...); model.fit(train_ds, epochs=5, ...)
    print("2. the base's last residual block (its last 10 layers) with the head")
    model.setBaseTrainable(true)
    for layer in 0..<(model.baseLayerCount - 10) { try model.setTrainable(false, layer: layer) }
    try model.compile(optimizer: .adam(learningRate: 1e-5))
    let history = try model.fit(train, epochs: arguments.fineTuneEpochs, validationData: validation,
                                progress: printEpochs)
    print("fine-tuning history: \(history.history.keys.sorted().joined(separator: ", "))")

    let (loss, accuracy) = try model.evaluate(test)
    print(String(format: "test: loss %.4f, accuracy %.4f", loss, accuracy))

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("beans-swift-\(getpid()).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let loaded = try TransferModel.load(from: path)
    let reloaded = try loaded.evaluate(test)
    guard reloaded.accuracy == accuracy else {
        throw ExampleError("the loaded model's test accuracy is \(reloaded.accuracy), not \(accuracy)")
    }
    print(String(format: "saved and loaded back: test accuracy %.4f", reloaded.accuracy))
}

do {
    try run(Arguments(Array(CommandLine.arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("beans: \(error)\n".utf8))
    exit(1)
}
