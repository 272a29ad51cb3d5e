// graft-bench: the Graft side of `make bench` (bench/run.py drives it, with
// Keras, ONNX Runtime and OpenVINO, and prints the tables).
//
//   graft-bench sgemm [--threads 2] [--size 2048] [--reps 5]
//       OpenBLAS sgemm GFLOP/s on one large square product: the machine's
//       practical peak, measured in the same run as everything else.
//   graft-bench inference --weights PATH [--batch 32] [--size 100]
//                         [--threads 2] [--warmup 2] [--reps 5] [--precision P]
//       The base's forward pass on preprocessed input, as Keras's
//       base(x, training=False); int8 calibrated on the timed batch.
//   graft-bench pipeline --dir FOLDER [--batch 32] [--size 100] [--threads 2] [--reps 3]
//       image_dataset_from_directory's work: list, decode, resize, batch;
//       images/s over whole passes (the first pass warms the file cache).
//   graft-bench train --mode step_frozen|step_last10|step_full --weights PATH
//                     [--batch 32] [--size 100] [--threads 2] [--warmup 2] [--reps 5]
//                     [--micro-batch-size N]
//       One Adam step of the GAP + Dense(10) model (the frozen-feature cache
//       off, so that every step computes the base); a batch larger than the
//       micro-batch size (the engine's, or N) runs in parts. Under mpirun,
//       data-parallel: the batch is the global one, and rank 0 prints the
//       collectives' wait and the bytes it sums per step too.
//   graft-bench fit --dir FOLDER --weights PATH [--epochs 3] [--augmentation SPEC] [--unfreeze-last N]
//                   [--batch 32] [--size 100] [--threads 2] [--precision P]
//       A seed workflow's phase end to end: datasets with a 25% validation
//       split, the base frozen (or its last N layers trainable), the
//       augmentation layers of --augmentation (`graft train`'s text for
//       them), Adam, fit with validation; int8 calibrated (timed too) on the
//       first 256 training images. Data-parallel under mpirun.
//
//   graft-bench precision --dir FOLDER --weights PATH [--precision bfloat16|int8] [--epochs 5]
//                         [--batch 32] [--size 100] [--threads 2]
//       bfloat16 (default) or int8 inference against float32: a head
//       trained on FOLDER/train (int8 calibrated on those images too),
//       FOLDER/test predicted both ways (top-1 agreement, accuracies, the
//       features' relative error).
//   graft-bench profile --weights PATH [--batch 32] [--size 100] [--threads 2] [--reps 3]
//       Seconds per batch and multiply-adds per image of each ResNet stage,
//       each kind of layer and each layer, in inference and in a whole-base
//       training step (LayerProfile).
//
// Each prints one JSON line.

import Foundation
import GraftData
import GraftKernels
import GraftModel

struct Arguments {
    var values: [String: String] = [:]

    init(_ args: ArraySlice<String>) {
        var i = args.startIndex
        while i < args.endIndex {
            let key = args[i]
            guard key.hasPrefix("--"), i + 1 < args.endIndex else { fail("unexpected argument \(key)") }
            values[String(key.dropFirst(2))] = args[i + 1]
            i += 2
        }
    }

    /// --precision float32 (default), bfloat16 or int8.
    func precision() -> Precision {
        guard let text = values["precision"] else { return .float32 }
        guard let precision = Precision(rawValue: text) else {
            fail("--precision is \(Precision.allCases.map(\.rawValue).joined(separator: ", ")), not \(text)")
        }
        return precision
    }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let v = Int(text) else { fail("--\(name) needs an integer, not \(text)") }
        return v
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("graft-bench: \(message)\n".utf8))
    exit(2)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process, in MB (Linux reports kB).
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

func json(_ fields: [(String, String)]) -> String {
    "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
}

func list(_ xs: [Double]) -> String {
    "[" + xs.map { String(format: "%.4f", $0) }.joined(separator: ", ") + "]"
}

func sgemmBenchmark(_ args: Arguments) {
    let n = args.int("size", 2048), reps = args.int("reps", 5), threads = args.int("threads", 2)
    do { try BLAS.load() } catch { fail("\(error)") }
    BLAS.setThreads(threads)
    let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
    for i in 0..<(n * n) {
        a.data[i] = Float(i % 7) * 0.1
        b.data[i] = Float(i % 5) * 0.1
    }
    let product = { gemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n) }
    product()
    let times = (0..<reps).map { _ in seconds(product) }
    let gflops = 2 * Double(n * n * n) / median(times) / 1e9
    print(json([("engine", "\"sgemm\""), ("core", "\"\(BLAS.coreName ?? "unknown")\""),
                ("isa", "\"\(InstructionSet.current.name)\""), ("size", "\(n)"),
                ("threads", "\(threads)"),
                ("gflops", String(format: "%.1f", gflops)), ("seconds", list(times))]))
}

/// Random pixels through caffe preprocessing, as the reference engines get.
func randomPreprocessedImages(_ images: Tensor) {
    var state: UInt64 = 42
    for i in 0..<images.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        images.data[i] = Float(state >> 40) / Float(1 << 24) * 255
    }
    Preprocessing.caffe.apply(input: images.data, pixels: images.count / 3, output: images.data)
}

func inferenceBenchmark(_ args: Arguments) throws {
    guard let weights = args.values["weights"] else { fail("inference needs --weights PATH") }
    let batch = args.int("batch", 32), size = args.int("size", 100)
    let warmup = args.int("warmup", 2), reps = args.int("reps", 5)
    var options = ModelOptions()
    options.weights = .file(weights)
    options.inputHeight = size
    options.inputWidth = size
    options.threads = args.int("threads", 2)
    let model = try Model(options)

    let input = Tensor(shape: [batch, size, size, 3])
    randomPreprocessedImages(input)
    // int8 is calibrated on the timed batch itself.
    if args.precision() == .int8 { try model.calibrate(preprocessed: input.data, count: batch) }
    try model.setPrecision(args.precision())
    let output = Tensor(shape: [batch] + model.featureShape)

    let run = { try model.features(preprocessed: input.data, count: batch, output: output.data) }
    for _ in 0..<warmup { try run() }
    let times = try (0..<reps).map { _ in try seconds(run) }
    print(json([("engine", "\"graft\""),
                ("images_per_s", String(format: "%.2f", Double(batch) / median(times))),
                ("seconds_per_batch", list(times)),
                ("gflop_per_image", String(format: "%.4f", gigaflops(model.base).forward)),
                ("peak_rss_mb", String(format: "%.0f", peakRSSMegabytes()))]))
}

/// image_dataset_from_directory's options for --size, --batch, --threads.
func folderOptions(_ args: Arguments) -> DatasetOptions {
    var options = DatasetOptions()
    options.imageHeight = args.int("size", 100)
    options.imageWidth = options.imageHeight
    options.batchSize = args.int("batch", 32)
    options.threads = args.int("threads", 2)
    options.seed = 1
    return options
}

func pipelineBenchmark(_ args: Arguments) throws {
    guard let folder = args.values["dir"] else { fail("pipeline needs --dir FOLDER") }
    let options = folderOptions(args)
    let reps = args.int("reps", 3)
    var images = 0
    let pass = {
        // Listing is part of the work, as it is for Keras's function.
        let dataset = try ImageDataset.fromDirectory(folder, options: options)
        let iterator = dataset.makeIterator()
        images = 0
        while let batch = try iterator.next() { images += batch.count }
    }
    try pass()
    let times = try (0..<reps).map { _ in try seconds(pass) }
    print(json([("engine", "\"graft\""),
                ("images_per_s", String(format: "%.1f", Double(images) / median(times))),
                ("seconds_per_pass", list(times)), ("images", "\(images)"),
                ("peak_rss_mb", String(format: "%.0f", peakRSSMegabytes()))]))
}

/// The benchmarks' model, in float32 (`setPrecision(_:_:calibratingOn:)`
/// switches it).
func transferModel(_ args: Arguments, classes: Int, augmentation: [AugmentationLayer] = []) throws -> TransferModel {
    guard let weights = args.values["weights"] else { fail("needs --weights PATH") }
    var options = ModelOptions()
    options.weights = .file(weights)
    options.inputHeight = args.int("size", 100)
    options.inputWidth = options.inputHeight
    options.threads = args.int("threads", 2)
    return try TransferModel(base: try Model(options), head: HeadOptions(numClasses: classes),
                             augmentation: augmentation)
}

/// The model of `train --mode` and one training step of it on a fixed batch.
func trainingStep(_ args: Arguments, mode: String) throws -> (model: TransferModel, step: () throws -> Void) {
    let batch = args.int("batch", 32), size = args.int("size", 100)
    let model = try transferModel(args, classes: 10)
    try model.setPrecision(args.precision())
    switch mode {
    case "step_frozen": model.setBaseTrainable(false)
    case "step_last10":
        model.setBaseTrainable(true)
        for i in 0..<(model.baseLayerCount - 10) { try model.setTrainable(false, layer: i) }
    case "step_full": model.setBaseTrainable(true)
    default: fail("unknown mode \(mode)")
    }
    model.featureCacheLimit = 0
    if let size = args.values["micro-batch-size"] { try model.setMicroBatchSize(Int(size)) }
    try model.compile(.adam())
    var state: UInt64 = 42
    let pixels = (0..<(batch * size * size * 3)).map { _ -> UInt8 in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    let labels = (0..<batch).map { Int32($0 % 10) }
    var options = DatasetOptions()
    options.batchSize = batch
    options.shuffle = false
    let dataset = try ImageDataset.fromMemory(bytes: pixels, floats: nil, labels: labels, count: batch,
                                              height: size, width: size, classCount: 10, options: options)
    return (model, { _ = try model.fit(dataset, epochs: 1) })
}

/// Under mpirun, the batch is the global batch, each process trains on its
/// part; rank 0 prints, with the collectives' cost per step (its wait and
/// the bytes of the gradients it sums).
func trainBenchmark(_ args: Arguments) throws {
    let mode = args.values["mode"] ?? "step_full"
    let batch = args.int("batch", 32), reps = args.int("reps", 5)
    let (model, step) = try trainingStep(args, mode: mode)
    for _ in 0..<args.int("warmup", 2) { try step() }
    let before = ProcessGroup.current?.traffic
    let times = try (0..<reps).map { _ in try seconds(step) }
    let traffic = ProcessGroup.current.map { group -> [(String, String)] in
        let after = group.traffic
        return [("processes", "\(group.size)"), ("comm_engine", "\"\(group.engineName)\""),
                ("comm_seconds_per_step", String(format: "%.4f", (after.waitSeconds - before!.waitSeconds) / Double(reps))),
                ("comm_mb_per_step", String(format: "%.2f", Double(after.bytesSummed - before!.bytesSummed) / Double(reps) / 1e6))]
    } ?? []
    guard ProcessGroup.isPrimary else { return }
    print(json([("engine", "\"graft\""), ("mode", "\"\(mode)\""),
                ("images_per_s", String(format: "%.2f", Double(batch) / median(times))),
                ("seconds_per_step", list(times)),
                ("gflop_per_image", String(format: "%.4f", gigaflops(model.network).training)),
                ("peak_rss_mb", String(format: "%.0f", peakRSSMegabytes()))] + traffic))
}

func fitBenchmark(_ args: Arguments) throws {
    guard let folder = args.values["dir"] else { fail("fit needs --dir FOLDER") }
    var options = folderOptions(args)
    options.validationSplit = 0.25
    let epochs = args.int("epochs", 3), unfrozen = args.int("unfreeze-last", 0)
    let classes = try DirectoryListing.list(directory: folder).classNames.count
    let augmentation = try AugmentationSpec.parse(args.values["augmentation"] ?? "none")
    let model = try transferModel(args, classes: classes, augmentation: augmentation)
    model.setBaseTrainable(false)
    for i in (model.baseLayerCount - unfrozen)..<model.baseLayerCount { try model.setTrainable(true, layer: i) }
    try model.compile(.adam())
    var history: History?
    var images = 0, validationImages = 0
    let total = try seconds {
        let (train, validation) = try ImageDataset.fromDirectorySplit(folder, options: options)
        (images, validationImages) = (train.count, validation.count)
        try setPrecision(model, args.precision(), calibratingOn: train)
        history = try model.fit(train, epochs: epochs, validation: validation)
    }
    // Keras's work: every epoch trains on every image and validates on the rest.
    let flops = gigaflops(model.network)
    let work = Double(epochs) * (Double(images) * flops.training + Double(validationImages) * flops.forward)
    guard ProcessGroup.isPrimary else { return }
    print(json([("engine", "\"graft\""), ("mode", "\"fit\""), ("seconds", String(format: "%.2f", total)),
                ("images", "\(images)"), ("epochs", "\(epochs)"), ("keras_gflop", String(format: "%.1f", work)),
                ("final_val_accuracy", String(format: "%.4f", history?.valAccuracy.last ?? Double.nan)),
                ("peak_rss_mb", String(format: "%.0f", peakRSSMegabytes()))]))
}

/// Keras's augmentation layers alone: RandomFlip, RandomRotation(0.1) and
/// RandomZoom(0.1) (Keras's defaults otherwise) on batches of random
/// images (the pixels' values do not change the work), as
/// bench/reference_augment_bench.py runs Keras's.
func augmentBenchmark(_ args: Arguments) throws {
    let batch = args.int("batch", 32), size = args.int("size", 100), threads = args.int("threads", 2)
    let warmup = args.int("warmup", 2), reps = args.int("reps", 10)
    let augmentation = Augmentation(layers: [.flip(.horizontalAndVertical),
                                             .rotation(try RandomRotation(factor: .number(0.1))),
                                             .zoom(try RandomZoom(heightFactor: .number(0.1)))], seed: 1)
    let input = Tensor(shape: [batch, size, size, 3]), output = Tensor(shape: [batch, size, size, 3])
    randomPreprocessedImages(input)
    var pass = 0
    let run = {
        augmentation.apply(images: input.data, count: batch, height: size, width: size, channels: 3, epoch: pass,
                           threads: threads, into: output.data)
        pass += 1
    }
    for _ in 0..<warmup { run() }
    let times = (0..<reps).map { _ in seconds(run) }
    print(json([("engine", "\"graft\""), ("images_per_s", String(format: "%.1f", Double(batch) / median(times))),
                ("seconds_per_batch", list(times)), ("peak_rss_mb", String(format: "%.0f", peakRSSMegabytes()))]))
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: graft-bench sgemm|inference [--option value]...") }
let options = Arguments(arguments.dropFirst(2))
do {
    // Under mpirun, train and fit run data-parallel (rank 0 prints).
    try ProcessGroup.initialize()
    switch arguments[1] {
    case "sgemm": sgemmBenchmark(options)
    case "inference": try inferenceBenchmark(options)
    case "pipeline": try pipelineBenchmark(options)
    case "train": try trainBenchmark(options)
    case "profile": try profileBenchmark(options)
    case "precision": try precisionBenchmark(options)
    case "fit": try fitBenchmark(options)
    case "augment": try augmentBenchmark(options)
    default: fail("unknown benchmark \(arguments[1])")
    }
} catch {
    fail("\(error)")
}
