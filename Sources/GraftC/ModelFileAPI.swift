import CGraftABI
import Glibc
import GraftFoundation
import GraftKernels
import GraftModel

// Class names, the layer graph (for summaries), and saving and loading.

@_cdecl("graft_model_set_class_names")
public func graft_model_set_class_names(_ model: OpaquePointer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ count: Int32) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let names = try required(names, "names")
        guard count >= 0 else { throw GraftError.invalidArgument("count must not be negative, not \(count)") }
        let strings = try (0..<Int(count)).map { try string(try required(names[$0], "names[\($0)]"), "names[\($0)]") }
        try handle.locked { try handle.requireHead().setClassNames(strings) }
    }
}

@_cdecl("graft_model_class_count")
public func graft_model_class_count(_ model: OpaquePointer?) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { Int32(handle.transfer?.head.numClasses ?? 0) }) ?? -1
}

@_cdecl("graft_model_class_name")
public func graft_model_class_name(_ model: OpaquePointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return (try? handle.locked { handle.className(Int(index)) })
}

/// The output activations' names as static C strings.
private let outputActivationNames: [HeadOptions.OutputActivation: UnsafePointer<CChar>] = Dictionary(
    uniqueKeysWithValues: HeadOptions.OutputActivation.allCases.map { ($0, UnsafePointer(strdup($0.rawValue)!)) })

@_cdecl("graft_model_output_activation")
public func graft_model_output_activation(_ model: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return try? handle.locked { outputActivationNames[try handle.requireHead().head.outputActivation] }
}

/// Keras's class names as static C strings.
private let layerClassNames: [String: UnsafePointer<CChar>] = Dictionary(uniqueKeysWithValues: [
    "InputLayer", "Conv2D", "BatchNormalization", "Activation", "Add", "ZeroPadding2D", "MaxPooling2D",
    "GlobalAveragePooling2D", "Flatten", "Dense", "Dropout",
].map { ($0, UnsafePointer(strdup($0)!)) })

@_cdecl("graft_model_layer_class")
public func graft_model_layer_class(_ model: OpaquePointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return (try? handle.locked { element(handle.layers, Int(index)).flatMap { layerClassNames[$0.kind.className] } })
}

@_cdecl("graft_model_layer_output_shape")
public func graft_model_layer_output_shape(_ model: OpaquePointer?, _ index: Int32,
                                           _ rank: UnsafeMutablePointer<Int32>?,
                                           _ dims: UnsafeMutablePointer<Int64>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let (rank, dims) = (try required(rank, "rank"), try required(dims, "dims"))
        let shape = try handle.locked { try handle.layer(index).outputShape }
        rank.pointee = Int32(shape.count)
        for (i, d) in shape.enumerated() { dims[i] = Int64(d) }
    }
}

@_cdecl("graft_model_layer_input_count")
public func graft_model_layer_input_count(_ model: OpaquePointer?, _ index: Int32) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { element(handle.layers, Int(index)).map { Int32($0.inputs.count) } ?? -1 }) ?? -1
}

@_cdecl("graft_model_layer_input")
public func graft_model_layer_input(_ model: OpaquePointer?, _ index: Int32, _ k: Int32) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked {
        guard let layer = element(handle.layers, Int(index)), k >= 0, Int(k) < layer.inputs.count else { return -1 }
        return Int32(layer.inputs[Int(k)])
    }) ?? -1
}

@_cdecl("graft_model_save")
public func graft_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let path = try string(try required(path, "path"), "path")
        try handle.locked { try handle.requireHead().save(to: path) }
    }
}

@_cdecl("graft_model_save_weights")
public func graft_model_save_weights(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let path = try string(try required(path, "path"), "path")
        try handle.locked { try handle.requireHead().saveWeights(to: path) }
    }
}

@_cdecl("graft_model_load_weights")
public func graft_model_load_weights(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let path = try string(try required(path, "path"), "path")
        try handle.locked { try handle.requireHead().loadWeights(from: path) }
    }
}

@_cdecl("graft_model_load")
public func graft_model_load(_ path: UnsafePointer<CChar>?, _ threads: Int32,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        let path = try string(try required(path, "path"), "path")
        guard threads >= 0 else { throw GraftError.invalidArgument("num_threads must not be negative, not \(threads)") }
        let transfer = try TransferModel.load(from: path, threads: Int(threads))
        let handle = ModelHandle(transfer.base)
        handle.addHead(transfer)
        out.pointee = handle.opaque
    }
}
