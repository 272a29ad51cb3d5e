import GraftData
import GraftFoundation
import GraftIO
import GraftKernels

/// Where a model's base weights come from.
public enum WeightsSource: Equatable {
    /// Keras's initialisers, from the model's seed.
    case random
    /// A Keras legacy HDF5 weight file.
    case file(String)
    /// The standard ImageNet file of the architecture, looked up locally
    /// (see `ImagenetWeights.locate`).
    case imagenet
}

public struct ModelOptions {
    public var architecture: ResNetArchitecture = .resnet50
    public var weights: WeightsSource = .random
    /// Keras's default input size for ResNet.
    public var inputHeight = 224
    public var inputWidth = 224
    public var preprocessing: Preprocessing = .caffe
    public var seed: UInt64 = 0
    /// Worker threads; 0 means one per core.
    public var threads = 0
    /// Number format of the convolutions' products in inference passes
    /// (features, predictions, the frozen part of training); training steps
    /// always compute in float32. bfloat16 needs AVX512_BF16; int8 needs
    /// AVX512_VNNI and a calibration, so it is set after creation
    /// (`Model.calibrate`, then `setPrecision`).
    public var precision: Precision = .float32

    public init() {}
}

/// A ResNet base (the network `keras.applications.ResNet50(include_top=False)`
/// builds) with its preprocessing, ready for inference.
///
/// Thread safety: every method may be called from any thread; calls on one
/// model run one at a time.
public final class Model {
    public let architecture: ResNetArchitecture
    public let base: Network
    public let preprocessing: Preprocessing
    public let threads: Int
    /// Number format of inference passes (`ModelOptions.precision`).
    public private(set) var precision: Precision
    /// The activations' ranges int8 quantizes by (`calibrate`), nil before.
    public private(set) var calibration: Calibration?
    /// Images per run of the compiled network; longer inputs go in batches.
    public static let maxBatch = 32

    /// Times each layer of every inference pass while set (`LayerProfile`);
    /// set it only while no call is running.
    public var profile: LayerProfile?

    private let mutex = Lock()
    private var plan: InferencePlan?
    private var staging: Tensor?

    public init(_ options: ModelOptions) throws {
        // Every computation may reach OpenBLAS: a machine without it fails here, clearly.
        try BLAS.load()
        guard options.threads >= 0 else {
            throw GraftError.invalidArgument("threads must be 0 (one per core) or more, not \(options.threads)")
        }
        architecture = options.architecture
        preprocessing = options.preprocessing
        threads = options.threads == 0 ? Parallel.coreCount : options.threads
        try Model.checkAvailable(options.precision, calibrated: false)
        precision = options.precision
        base = try Network.resnet(options.architecture, inputHeight: options.inputHeight,
                                  inputWidth: options.inputWidth, seed: options.seed)
        let modelName = options.architecture.kerasName
        switch options.weights {
        case .random:
            break
        case .file(let path):
            try base.loadWeights(from: KerasWeightFile(path: path), modelName: modelName)
        case .imagenet:
            let path = try ImagenetWeights.locate(options.architecture)
            try base.loadWeights(from: KerasWeightFile(path: path), modelName: modelName)
        }
    }

    /// Switches later inference passes to `precision` (the compiled network
    /// is rebuilt); on a CPU that cannot run it, throws and changes nothing.
    /// A TransferModel's base is switched through the TransferModel.
    public func setPrecision(_ precision: Precision) throws {
        try mutex.withLock {
            try Model.checkAvailable(precision, calibrated: calibration != nil)
            self.precision = precision
            plan = nil
            staging = nil
        }
    }

    private static func checkAvailable(_ precision: Precision, calibrated: Bool) throws {
        switch precision {
        case .float32:
            return
        case .bfloat16 where !PackedKernel.isAvailable(.bfloat16):
            throw GraftError.invalidArgument("precision bfloat16 needs a CPU with AVX512_BF16, which this one lacks")
        case .int8 where !PackedKernel.isAvailable(.int8):
            throw GraftError.invalidArgument("precision int8 needs a CPU with AVX512_VNNI, which this one lacks")
        case .int8 where !calibrated:
            throw GraftError.invalidArgument(
                "precision int8 needs the activations' ranges: calibrate the model on representative images first")
        case .bfloat16, .int8:
            return
        }
    }

    /// Measures the activations' ranges int8 quantizes by, in float32, on
    /// representative RGB images (pixel values 0…255, as `features(images:)`
    /// takes them) that `feed` hands over batch by batch: each call of its
    /// argument adds `count` images at a pointer. Keeps the ranges (replacing
    /// any earlier ones); an int8 model is recompiled with them. On an error
    /// (from `feed` too) nothing changes.
    public func calibrate(_ feed: (_ add: (UnsafePointer<Float>, _ count: Int) throws -> Void) throws -> Void) throws {
        try calibrate(preprocessed: false, feed)
    }

    /// The same for `count` images at `images`.
    public func calibrate(images: UnsafePointer<Float>, count: Int) throws {
        try calibrate { add in try add(images, count) }
    }

    /// Takes ranges measured before (a model file's).
    func restoreCalibration(_ calibration: Calibration) {
        mutex.withLock {
            self.calibration = calibration
            plan = nil
            staging = nil
        }
    }

    /// The same on every image of `dataset` (RGB, at the model's input size),
    /// one pass in its first epoch's order, without touching its passes.
    public func calibrate(_ dataset: ImageDataset) throws {
        guard dataset.imageHeight == base.inputHeight && dataset.imageWidth == base.inputWidth
              && dataset.colorMode == .rgb else {
            throw GraftError.invalidArgument(
                "the calibration images are \(dataset.imageHeight)x\(dataset.imageWidth) \(dataset.colorMode.rawValue), "
                + "the model takes \(base.inputHeight)x\(base.inputWidth) rgb")
        }
        let batches = dataset.makeIterator(epoch: 0)
        try calibrate { add in
            while let batch = try batches.next() { try add(batch.images, batch.count) }
        }
    }

    /// The same for `count` images already preprocessed (as
    /// `features(preprocessed:)` takes them).
    public func calibrate(preprocessed input: UnsafePointer<Float>, count: Int) throws {
        try calibrate(preprocessed: true) { add in try add(input, count) }
    }

    private func calibrate(preprocessed: Bool,
                           _ feed: ((UnsafePointer<Float>, Int) throws -> Void) throws -> Void) throws {
        try mutex.withLock {
            let float32 = try InferencePlan(network: base, capacity: Model.maxBatch, threads: threads)
            let pixels = Tensor(shape: [float32.capacity * float32.inputSize])
            let output = Tensor(shape: [float32.capacity * float32.outputSize])
            var measurement = Calibration.Measurement(), images = 0
            try feed { input, count in
                try checkCount(count)
                images += count
                guard !preprocessed else {
                    return measurement.observe(float32, input: input, count: count, output: output)
                }
                for start in stride(from: 0, to: count, by: float32.capacity) {
                    let n = min(float32.capacity, count - start)
                    preprocessing.apply(input: input + start * float32.inputSize, pixels: n * float32.inputSize / 3,
                                        output: pixels.data)
                    measurement.observe(float32, input: pixels.data, count: n, output: output)
                }
            }
            guard images > 0 else { throw GraftError.invalidArgument("calibration needs at least one image") }
            calibration = measurement.result
            plan = nil
            staging = nil
        }
    }

    /// Forgets the compiled network: its folded kernels are copies, so it is
    /// rebuilt after the weights change (training, loading).
    public func weightsChanged() {
        mutex.withLock {
            plan = nil
            staging = nil
        }
    }

    /// Shape of the base's output for one image: (h', w', channels).
    public var featureShape: [Int] { base.outputShape }

    /// The base's output for `count` images already preprocessed (NHWC,
    /// height × width × 3 each): what Keras's `base(x, training=False)` returns.
    public func features(preprocessed input: UnsafePointer<Float>, count: Int,
                         output: UnsafeMutablePointer<Float>) throws {
        try checkCount(count)
        try withPlan(for: count) { plan in
            plan.run(inputs: input, count: count, outputs: output, profile: profile)
        }
    }

    /// The base's output for `count` RGB images with pixel values 0…255,
    /// after the model's preprocessing.
    public func features(images: UnsafePointer<Float>, count: Int,
                         output: UnsafeMutablePointer<Float>) throws {
        try checkCount(count)
        try withPlan(for: count) { plan in
            let staging = self.staging!
            for start in stride(from: 0, to: count, by: plan.capacity) {
                let n = min(plan.capacity, count - start)
                preprocessing.apply(input: images + start * plan.inputSize, pixels: n * plan.inputSize / 3,
                                    output: staging.data)
                plan.run(input: staging.data, batch: n, output: output + start * plan.outputSize,
                         profile: profile)
            }
        }
    }

    private func checkCount(_ count: Int) throws {
        guard count >= 1 else {
            throw GraftError.invalidArgument("image count must be at least 1, not \(count)")
        }
        let floatsPerImage = max(base.inputHeight * base.inputWidth * 3, featureShape.reduce(1, *))
        guard count <= Int.max / (floatsPerImage * MemoryLayout<Float>.stride) else {
            throw GraftError.invalidArgument("image count \(count) is larger than any buffer can be")
        }
    }

    /// Runs `body` under the model's lock with a plan big enough for `count`
    /// images (up to `maxBatch`), compiled on first use.
    private func withPlan(for count: Int, _ body: (InferencePlan) throws -> Void) throws {
        try mutex.withLock {
            let wanted = min(count, Model.maxBatch)
            if plan == nil || plan!.capacity < wanted {
                plan = nil
                staging = nil
                let newPlan = try InferencePlan(network: base, capacity: wanted, threads: threads, precision: precision,
                                                calibration: calibration)
                staging = Tensor(shape: [wanted * newPlan.inputSize])
                plan = newPlan
            }
            try body(plan!)
        }
    }
}

/// Finding the ImageNet weight files without touching the network.
public enum ImagenetWeights {
    /// Where Keras publishes the files.
    public static func url(_ architecture: ResNetArchitecture) -> String {
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + architecture.imagenetNotopFileName
    }

    /// The folders searched, in order: $GRAFT_WEIGHTS_DIR, then Keras's own
    /// cache ($KERAS_HOME/models, else ~/.keras/models).
    public static func searchFolders() -> [String] {
        var folders: [String] = []
        if let dir = environmentVariable("GRAFT_WEIGHTS_DIR") { folders.append(dir) }
        if let keras = environmentVariable("KERAS_HOME") {
            folders.append(keras + "/models")
        } else {
            folders.append((environmentVariable("HOME") ?? "~") + "/.keras/models")
        }
        return folders
    }

    /// The path of the architecture's ImageNet notop file, or an error that
    /// says where Graft looked and where the file can be downloaded.
    public static func locate(_ architecture: ResNetArchitecture) throws -> String {
        let name = architecture.imagenetNotopFileName
        let candidates = searchFolders().map { $0 + "/" + name }
        if let found = candidates.first(where: isReadableFile) {
            return found
        }
        throw GraftError.io(
            "ImageNet weights \(name) not found; looked in \(candidates.joined(separator: ", ")). "
            + "Download it from \(url(architecture)) into one of those folders (or set GRAFT_WEIGHTS_DIR to its folder); Graft never downloads anything itself")
    }
}
