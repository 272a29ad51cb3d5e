import ArgumentParser
import GraftFoundation
import GraftKernels
import GraftModel

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The beans workflow on a small generated dataset: flips + Adam on a frozen base, then the last residual block fine-tuned.",
        discussion: """
            Generates four classes of 100x100 images (discs, stripes, checks, rings in random colours) into \
            OUTPUT_DIR/data, trains, and writes the model, history.csv and history.svg into OUTPUT_DIR. Uses the \
            ImageNet weights when the notop file is found ($GRAFT_WEIGHTS_DIR, then Keras's cache), else random \
            initialisation, and says which.
            """)

    @Option(help: "Folder for the dataset, the model and the chart.")
    var outputDir = "graft-demo"
    @Option(help: "\"imagenet\" (falls back to random initialisation when the file is not found), \"random\" or a .h5 path.")
    var weights = "imagenet"
    @Option(help: "Training images per class (a quarter more are made for testing).")
    var imagesPerClass = 60
    @Option var epochs = 20
    @Option var fineTuneEpochs = 5
    @Option(help: "Worker threads (0: one per core).")
    var threads = 0

    func run() throws {
        var weights = weights
        if weights == "imagenet" {
            do {
                print("ImageNet weights: \(try ImagenetWeights.locate(.resnet50))")
            } catch let error as GraftError {
                print("\(error.message)\nThe demo goes on with random initialisation: expect lower accuracy.\n")
                weights = "random"
            }
        }
        let data = outputDir + "/data"
        try DemoImages.write(to: data, size: 100, trainPerClass: imagesPerClass,
                             testPerClass: max(1, imagesPerClass / 4), seed: 2024)
        print("Generated \(DemoImages.classes.count) classes (\(DemoImages.classes.joined(separator: ", "))) in \(data)")

        // The beans workflow of the design: RandomFlip("horizontal_and_vertical"),
        // Adam with the base frozen, then the last 10 layers with Adam(1e-5).
        var w = Workflow(dataDirectory: data + "/train")
        w.testDirectory = data + "/test"
        w.weights = weights
        w.batchSize = 32
        w.validationSplit = 0.2
        w.augmentation = [.flip(.horizontalAndVertical)]
        w.optimizer = .adam
        w.epochs = epochs
        w.fineTuneEpochs = fineTuneEpochs
        w.unfreezeLast = 10
        w.fineTuneLearningRate = 1e-5
        w.threads = threads
        w.output = outputDir + "/model.h5"
        w.historyPath = outputDir + "/history.csv"
        w.chartPath = outputDir + "/history.svg"
        try w.run()
    }
}
