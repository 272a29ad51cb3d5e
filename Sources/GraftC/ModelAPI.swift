import CGraftABI
import Glibc
import GraftFoundation
import GraftKernels
import GraftModel
import Synchronization

/// What a graft_model handle points to: the model and the C strings handed
/// out for it, which live as long as the handle.
final class ModelHandle {
    let model: Model
    /// The base's layer names, then (once a head is added) the head's.
    private(set) var layerNames: [UnsafeMutablePointer<CChar>]
    let baseLayerCount: Int
    /// The base with its head, once graft_model_add_head has run.
    private(set) var transfer: TransferModel?
    /// Serialises every call on the handle that reads or changes the model,
    /// as graft.h promises: a features call waits for a running fit.
    private let mutex = Lock()
    /// The thread holding `mutex` (its pthread_t), 0 when none.
    private let owner = Atomic<UInt>(0)
    /// The thread holding `mutex` while it runs a fit's epoch callback,
    /// where calls on the same handle may run (`allowingCalls`), 0 when none.
    private let callbacksOwner = Atomic<UInt>(0)

    /// Runs `body` holding the handle's lock. A call made from inside a
    /// progress callback of a running call on the same handle (the thread
    /// that holds the lock) would wait for itself forever: it fails instead,
    /// except inside a fit's epoch callback (`allowingCalls`), where the
    /// model is between steps and the call runs at once.
    func locked<T>(_ body: () throws -> T) throws -> T {
        let me = UInt(pthread_self())
        if owner.load(ordering: .relaxed) == me {
            guard callbacksOwner.load(ordering: .relaxed) == me else {
                throw GraftError(.state, "a call on a model was made from inside a progress callback of another call on the same model: calls on one model run one at a time, so make it after that call returns")
            }
            return try body()
        }
        return try mutex.withLock {
            owner.store(me, ordering: .relaxed)
            defer { owner.store(0, ordering: .relaxed) }
            return try body()
        }
    }

    /// Runs `body` (an epoch callback, called with the lock held) letting
    /// calls on this handle from the same thread run.
    func allowingCalls<T>(_ body: () throws -> T) rethrows -> T {
        callbacksOwner.store(UInt(pthread_self()), ordering: .relaxed)
        defer { callbacksOwner.store(0, ordering: .relaxed) }
        return try body()
    }

    /// Refuses to start a fit from inside a callback of one on this handle.
    func refuseNestedFit() throws {
        guard owner.load(ordering: .relaxed) != UInt(pthread_self()) else {
            throw GraftError(.state, "fit was called from inside a callback of another call on the same model: make it after that call returns")
        }
    }

    init(_ model: Model) {
        self.model = model
        layerNames = model.base.layers.map { strdup($0.name)! }
        baseLayerCount = layerNames.count
    }

    deinit {
        layerNames.forEach { free($0) }
        classNameStrings.strings.forEach { free($0) }
        free(topKNameString.pointer)
    }

    func addHead(_ transfer: TransferModel) {
        self.transfer = transfer
        layerNames += transfer.layers[baseLayerCount...].map { strdup($0.name)! }
    }

    /// C copies of the head's class names, remade when the names change
    /// (set by the caller, or adopted by a fit).
    private var classNameStrings: (names: [String], strings: [UnsafeMutablePointer<CChar>]) = ([], [])

    /// The C string of class `index`; call with `mutex` held.
    func className(_ index: Int) -> UnsafePointer<CChar>? {
        let names = transfer?.classNames ?? []
        if names != classNameStrings.names {
            classNameStrings.strings.forEach { free($0) }
            classNameStrings = (names, names.map { strdup($0)! })
        }
        return element(classNameStrings.strings, index).map { UnsafePointer($0) }
    }

    /// The C copy of the top-k accuracy's name, remade when a compile
    /// changes it.
    private var topKNameString: (name: String?, pointer: UnsafeMutablePointer<CChar>?) = (nil, nil)

    /// The C string of the top-k accuracy's name; call with `mutex` held.
    func topKName() -> UnsafePointer<CChar>? {
        let name = transfer?.topKAccuracy?.name
        if name != topKNameString.name {
            free(topKNameString.pointer)
            topKNameString = (name, name.map { strdup($0)! })
        }
        return topKNameString.pointer.map { UnsafePointer($0) }
    }

    /// The model's layers: the base's, then the head's when there is one.
    var layers: [Layer] { transfer?.layers ?? model.base.layers }

    /// Layer `index` (negative from the end), or an error naming the range.
    func layer(_ index: Int32) throws -> Layer {
        guard let layer = element(layers, Int(index)) else {
            throw GraftError.invalidArgument("layer index \(index) is out of range: the model has \(layers.count) layers")
        }
        return layer
    }

    /// The model with its head, or a state error naming what is missing.
    func requireHead() throws -> TransferModel {
        guard let transfer else {
            throw GraftError(.state, "the model has no head: call graft_model_add_head first")
        }
        return transfer
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    static func from(_ pointer: OpaquePointer?) throws -> ModelHandle {
        Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, "model"))).takeUnretainedValue()
    }
}

private let defaultArchitecture = strdup("resnet50")!

/// The library's defaults for a graft_model_options.
func defaultModelOptions() -> graft_model_options {
    let defaults = ModelOptions()
    return graft_model_options(
        struct_size: MemoryLayout<graft_model_options>.size,
        architecture: UnsafePointer(defaultArchitecture),
        weights: nil,
        input_height: Int32(defaults.inputHeight),
        input_width: Int32(defaults.inputWidth),
        preprocessing: Int32(GRAFT_PREPROCESS_CAFFE.rawValue),
        seed: defaults.seed,
        num_threads: Int32(defaults.threads),
        precision: Int32(GRAFT_PRECISION_FLOAT32.rawValue))
}

@_cdecl("graft_model_options_init_sized")
public func graft_model_options_init_sized(_ options: UnsafeMutablePointer<graft_model_options>?,
                                           _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultModelOptions(), to: options, callerSize: structSize)
}

/// The Swift options a C options struct describes.
func modelOptions(_ c: graft_model_options) throws -> ModelOptions {
    var o = ModelOptions()
    if let name = c.architecture {
        let name = try string(name, "options.architecture")
        guard let architecture = ResNetArchitecture(rawValue: name) else {
            let known = ResNetArchitecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw GraftError.invalidArgument("unknown architecture \"\(name)\" (known: \(known))")
        }
        o.architecture = architecture
    }
    if let weights = c.weights {
        let weights = try string(weights, "options.weights")
        guard !weights.isEmpty else {
            throw GraftError.invalidArgument("options.weights is empty: give a path, \"imagenet\", or NULL for random initialisation")
        }
        o.weights = weights == "imagenet" ? .imagenet : .file(weights)
    }
    o.inputHeight = Int(c.input_height)
    o.inputWidth = Int(c.input_width)
    o.preprocessing = try preprocessing(c.preprocessing)
    o.seed = c.seed
    o.threads = Int(c.num_threads)
    o.precision = try precision(c.precision)
    return o
}

/// The Swift precision of a graft_precision value.
func precision(_ value: Int32) throws -> Precision {
    switch graft_precision(rawValue: UInt32(bitPattern: value)) {
    case GRAFT_PRECISION_FLOAT32: return .float32
    case GRAFT_PRECISION_BFLOAT16: return .bfloat16
    case GRAFT_PRECISION_INT8: return .int8
    default: throw GraftError.invalidArgument("unknown precision \(value)")
    }
}

@_cdecl("graft_model_create")
public func graft_model_create(_ options: UnsafePointer<graft_model_options>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        let c = try readOptions(try required(options, "options"), defaults: defaultModelOptions(),
                                initFunction: "graft_model_options_init")
        out.pointee = ModelHandle(try Model(try modelOptions(c))).opaque
    }
}

@_cdecl("graft_model_free")
public func graft_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("graft_model_input_shape")
public func graft_model_input_shape(_ model: OpaquePointer?, _ height: UnsafeMutablePointer<Int32>?,
                                    _ width: UnsafeMutablePointer<Int32>?) -> graft_status {
    catchingErrors {
        let base = try ModelHandle.from(model).model.base
        let (h, w) = (try required(height, "height"), try required(width, "width"))
        h.pointee = Int32(base.inputHeight)
        w.pointee = Int32(base.inputWidth)
    }
}

@_cdecl("graft_model_feature_shape")
public func graft_model_feature_shape(_ model: OpaquePointer?, _ height: UnsafeMutablePointer<Int32>?,
                                      _ width: UnsafeMutablePointer<Int32>?,
                                      _ channels: UnsafeMutablePointer<Int32>?) -> graft_status {
    catchingErrors {
        let shape = try ModelHandle.from(model).model.featureShape
        let (h, w, c) = (try required(height, "height"), try required(width, "width"),
                         try required(channels, "channels"))
        h.pointee = Int32(shape[0])
        w.pointee = Int32(shape[1])
        c.pointee = Int32(shape[2])
    }
}

@_cdecl("graft_model_features")
public func graft_model_features(_ model: OpaquePointer?, _ input: UnsafePointer<Float>?, _ count: Int64,
                                 _ output: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let (input, output) = (try required(input, "preprocessed_nhwc"), try required(output, "features_out"))
        try handle.locked { try handle.model.features(preprocessed: input, count: Int(count), output: output) }
    }
}

@_cdecl("graft_model_image_features")
public func graft_model_image_features(_ model: OpaquePointer?, _ input: UnsafePointer<Float>?, _ count: Int64,
                                       _ output: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let (input, output) = (try required(input, "images_nhwc"), try required(output, "features_out"))
        try handle.locked { try handle.model.features(images: input, count: Int(count), output: output) }
    }
}

@_cdecl("graft_model_base_layer_count")
public func graft_model_base_layer_count(_ model: OpaquePointer?) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return Int32(handle.baseLayerCount)
}

@_cdecl("graft_model_base_layer_name")
public func graft_model_base_layer_name(_ model: OpaquePointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return element(Array(handle.layerNames.prefix(handle.baseLayerCount)), Int(index)).map { UnsafePointer($0) }
}

/// The architectures' names as static C strings.
private let architectureNames: [ResNetArchitecture: UnsafePointer<CChar>] = Dictionary(
    uniqueKeysWithValues: ResNetArchitecture.allCases.map { ($0, UnsafePointer(strdup($0.rawValue)!)) })

@_cdecl("graft_model_architecture")
public func graft_model_architecture(_ model: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return architectureNames[handle.model.architecture]
}

@_cdecl("graft_model_preprocessing")
public func graft_model_preprocessing(_ model: OpaquePointer?) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    let value: graft_preprocessing
    switch handle.model.preprocessing {
    case .caffe: value = GRAFT_PREPROCESS_CAFFE
    case .rescale: value = GRAFT_PREPROCESS_RESCALE
    case .none: value = GRAFT_PREPROCESS_NONE
    }
    return Int32(value.rawValue)
}

@_cdecl("graft_model_set_precision")
public func graft_model_set_precision(_ model: OpaquePointer?, _ value: Int32) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let precision = try precision(value)
        try handle.locked {
            if let transfer = handle.transfer {
                try transfer.setPrecision(precision)
            } else {
                try handle.model.setPrecision(precision)
            }
        }
    }
}

@_cdecl("graft_model_precision")
public func graft_model_precision(_ model: OpaquePointer?) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    guard let precision = try? handle.locked({ handle.model.precision }) else { return -1 }
    let value = switch precision {
    case .float32: GRAFT_PRECISION_FLOAT32
    case .bfloat16: GRAFT_PRECISION_BFLOAT16
    case .int8: GRAFT_PRECISION_INT8
    }
    return Int32(value.rawValue)
}

/// Runs one of `Model.calibrate`'s forms on the model's base, through its
/// TransferModel when it has one (which drops what it compiled).
private func calibrateBase(_ model: OpaquePointer?, _ calibrate: (Model) throws -> Void) throws {
    let handle = try ModelHandle.from(model)
    try handle.locked {
        if let transfer = handle.transfer {
            try transfer.calibrateBase(calibrate)
        } else {
            try calibrate(handle.model)
        }
    }
}

@_cdecl("graft_model_calibrate")
public func graft_model_calibrate(_ model: OpaquePointer?, _ dataset: OpaquePointer?) -> graft_status {
    catchingErrors {
        let images = try DatasetHandle.from(dataset).dataset
        try calibrateBase(model) { try $0.calibrate(images) }
    }
}

@_cdecl("graft_model_calibrate_images")
public func graft_model_calibrate_images(_ model: OpaquePointer?, _ images: UnsafePointer<Float>?,
                                         _ count: Int64) -> graft_status {
    catchingErrors {
        let images = try required(images, "images_nhwc")
        try calibrateBase(model) { try $0.calibrate(images: images, count: Int(count)) }
    }
}

/// The core's preprocessing of a graft_preprocessing value.
private func preprocessing(_ value: Int32) throws -> Preprocessing {
    switch graft_preprocessing(rawValue: UInt32(bitPattern: value)) {
    case GRAFT_PREPROCESS_CAFFE: return .caffe
    case GRAFT_PREPROCESS_RESCALE: return .rescale
    case GRAFT_PREPROCESS_NONE: return .none
    default: throw GraftError.invalidArgument("unknown preprocessing \(value)")
    }
}

@_cdecl("graft_preprocess")
public func graft_preprocess(_ kind: Int32, _ input: UnsafePointer<Float>?, _ pixels: Int64,
                             _ output: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let input = try required(input, "input"), output = try required(output, "output")
        guard pixels >= 0, let count = Int(exactly: pixels), count <= Int.max / 3 else {
            throw GraftError.invalidArgument("pixels must be 0 or more, not \(pixels)")
        }
        try preprocessing(kind).apply(input: input, pixels: count, output: output)
    }
}
