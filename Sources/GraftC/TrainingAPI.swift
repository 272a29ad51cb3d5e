import CGraftABI
import Glibc
import GraftData
import GraftFoundation
import GraftKernels
import GraftModel

func defaultHeadOptions() -> graft_head_options {
    graft_head_options(struct_size: MemoryLayout<graft_head_options>.size, num_classes: 0,
                       pooling: Int32(GRAFT_POOLING_AVG.rawValue), hidden_units: nil, hidden_units_count: 0,
                       dropout: 0, augmentation: Int32(GRAFT_FLIP_NONE.rawValue), seed: 0,
                       augmentation_layers: nil, augmentation_layer_count: 0)
}

@_cdecl("graft_head_options_init_sized")
public func graft_head_options_init_sized(_ options: UnsafeMutablePointer<graft_head_options>?, _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultHeadOptions(), to: options, callerSize: structSize)
}

@_cdecl("graft_model_add_head")
public func graft_model_add_head(_ model: OpaquePointer?, _ options: UnsafePointer<graft_head_options>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let c = try readOptions(try required(options, "options"), defaults: defaultHeadOptions(),
                                initFunction: "graft_head_options_init")
        var head = HeadOptions(numClasses: Int(c.num_classes))
        switch graft_pooling(rawValue: UInt32(bitPattern: c.pooling)) {
        case GRAFT_POOLING_AVG: head.pooling = .avg
        case GRAFT_POOLING_FLATTEN: head.pooling = .flatten
        default: throw GraftError.invalidArgument("unknown pooling \(c.pooling)")
        }
        head.hiddenUnits = try array(c.hidden_units, count: c.hidden_units_count, "options.hidden_units").map(Int.init)
        head.dropout = c.dropout
        var augmentation = try augmentationLayers(c.augmentation_layers, count: c.augmentation_layer_count)
        switch graft_flip(rawValue: UInt32(bitPattern: c.augmentation)) {
        case GRAFT_FLIP_NONE: break
        case let flip:
            guard augmentation.isEmpty else {
                throw GraftError.invalidArgument("options.augmentation and options.augmentation_layers are both set: set one")
            }
            augmentation = [.flip(try flipMode(flip))]
        }
        try handle.locked {
            guard handle.transfer == nil else { throw GraftError(.state, "the model has a head already") }
            handle.addHead(try TransferModel(base: handle.model, head: head, augmentation: augmentation, seed: c.seed))
        }
    }
}

@_cdecl("graft_model_layer_count")
public func graft_model_layer_count(_ model: OpaquePointer?) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return Int32(handle.layerNames.count)
}

@_cdecl("graft_model_layer_name")
public func graft_model_layer_name(_ model: OpaquePointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return element(handle.layerNames, Int(index)).map { UnsafePointer($0) }
}


@_cdecl("graft_model_set_base_trainable")
public func graft_model_set_base_trainable(_ model: OpaquePointer?, _ trainable: Int32) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        try handle.locked {
            if let transfer = handle.transfer {
                transfer.setBaseTrainable(trainable != 0)
            } else {
                handle.model.base.layers.forEach { $0.trainable = trainable != 0 }
            }
        }
    }
}

@_cdecl("graft_model_set_layer_trainable")
public func graft_model_set_layer_trainable(_ model: OpaquePointer?, _ index: Int32, _ trainable: Int32) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        try handle.locked {
            if let transfer = handle.transfer {
                try transfer.setTrainable(trainable != 0, layer: Int(index))
            } else {
                guard let layer = element(handle.model.base.layers, Int(index)) else {
                    throw GraftError.invalidArgument("layer index \(index) is out of range: the model has \(handle.baseLayerCount) layers")
                }
                layer.trainable = trainable != 0
            }
        }
    }
}

@_cdecl("graft_model_layer_trainable")
public func graft_model_layer_trainable(_ model: OpaquePointer?, _ index: Int32) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { element(handle.layers, Int(index)).map { $0.trainable ? 1 : 0 } ?? -1 }) ?? -1
}

/// The C progress callback as a Swift closure (nil when there is none).
private func progressClosure(_ function: graft_progress_fn?, _ user: UnsafeMutableRawPointer?)
    -> ((TrainingProgress) -> Bool)? {
    guard let function else { return nil }
    return { p in
        var c = graft_progress(epoch: Int32(p.epoch), epochs: Int32(p.epochs), step: Int64(p.step),
                               steps: Int64(p.steps), loss: p.loss, accuracy: p.accuracy,
                               elapsed_seconds: p.elapsedSeconds, epoch_end: p.epochEnd ? 1 : 0,
                               val_loss: p.valLoss ?? .nan, val_accuracy: p.valAccuracy ?? .nan,
                               top_k_accuracy: p.topK?.value ?? .nan, val_top_k_accuracy: p.valTopK ?? .nan)
        return function(&c, user) != 0
    }
}

final class HistoryHandle {
    let history: History
    init(_ history: History) { self.history = history }
}

@_cdecl("graft_model_set_micro_batch_size")
public func graft_model_set_micro_batch_size(_ model: OpaquePointer?, _ size: Int64) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        guard size >= 0 else {
            throw GraftError.invalidArgument("the micro-batch size must be 0 (the engine's choice) or more, not \(size)")
        }
        try handle.locked { try handle.requireHead().setMicroBatchSize(size == 0 ? nil : Int(size)) }
    }
}

@_cdecl("graft_model_micro_batch_size")
public func graft_model_micro_batch_size(_ model: OpaquePointer?) -> Int64 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { Int64(try handle.requireHead().microBatchSize ?? 0) }) ?? -1
}

@_cdecl("graft_model_fit")
public func graft_model_fit(_ model: OpaquePointer?, _ train: OpaquePointer?, _ validation: OpaquePointer?,
                            _ epochs: Int32, _ progress: graft_progress_fn?, _ user: UnsafeMutableRawPointer?,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    var options = defaultFitOptions()
    options.epochs = epochs
    return graft_model_fit_with_options(model, train, validation, &options, progress, user, out)
}

@_cdecl("graft_model_fit_with_options")
public func graft_model_fit_with_options(_ model: OpaquePointer?, _ train: OpaquePointer?,
                                         _ validation: OpaquePointer?, _ options: UnsafePointer<graft_fit_options>?,
                                         _ progress: graft_progress_fn?, _ user: UnsafeMutableRawPointer?,
                                         _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let handle = try ModelHandle.from(model)
        let out = try required(out, "history")
        let c = try readOptions(try required(options, "options"), defaults: defaultFitOptions(),
                                initFunction: "graft_fit_options_init")
        let trainSet = try DatasetHandle.from(train).dataset
        let validationSet = try validation.map { try DatasetHandle.from($0).dataset }
        try handle.refuseNestedFit()
        let callbacks = try fitCallbacks(c, handle: handle)
        let weights = try array(c.class_weight, count: c.class_weight_count, "class_weight")
        guard c.sample_weight_count >= 0 && c.sample_weight_count <= Int64(Int32.max) else {
            throw GraftError.invalidArgument("sample_weight_count must be from 0 to 2^31 - 1, not \(c.sample_weight_count)")
        }
        let sampleWeight = try array(c.sample_weight, count: Int32(c.sample_weight_count), "sample_weight")
        let history = try handle.locked {
            let transfer = try handle.requireHead()
            guard weights.isEmpty || weights.count == transfer.head.labelClasses else {
                throw GraftError.invalidArgument(
                    "class_weight_count is \(weights.count), the head has \(transfer.head.labelClasses) classes")
            }
            let classWeight = weights.isEmpty ? nil : Dictionary(uniqueKeysWithValues: weights.enumerated().map { ($0, $1) })
            return try transfer.fit(trainSet, epochs: Int(c.epochs), validation: validationSet,
                                    initialEpoch: Int(c.initial_epoch),
                                    stepsPerEpoch: c.steps_per_epoch == 0 ? nil : Int(c.steps_per_epoch),
                                    classWeight: classWeight,
                                    sampleWeight: sampleWeight.isEmpty && c.sample_weight == nil ? nil : Array(sampleWeight),
                                    callbacks: callbacks,
                                    progress: progressClosure(progress, user))
        }
        out.pointee = OpaquePointer(Unmanaged.passRetained(HistoryHandle(history)).toOpaque())
    }
}

@_cdecl("graft_history_callback_state")
public func graft_history_callback_state(_ history: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Double {
    guard let h = historyOf(history), let name, let key = String(validatingCString: name) else { return .nan }
    return h.callbackState[key] ?? .nan
}

@_cdecl("graft_history_initial_epoch")
public func graft_history_initial_epoch(_ history: OpaquePointer?) -> Int32 {
    historyOf(history).map { Int32($0.firstEpoch) } ?? -1
}

private func historyOf(_ pointer: OpaquePointer?) -> History? {
    guard let pointer else { return nil }
    return Unmanaged<HistoryHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue().history
}

@_cdecl("graft_history_epochs")
public func graft_history_epochs(_ history: OpaquePointer?) -> Int32 {
    historyOf(history).map { Int32($0.epochs) } ?? -1
}

@_cdecl("graft_history_value")
public func graft_history_value(_ history: OpaquePointer?, _ metric: UnsafePointer<CChar>?, _ epoch: Int32) -> Double {
    guard let h = historyOf(history), let metric, let name = String(validatingCString: metric),
          let values = h.values(name), let value = element(values, Int(epoch)), epoch >= 0 else { return .nan }
    return value
}

@_cdecl("graft_history_stopped")
public func graft_history_stopped(_ history: OpaquePointer?) -> Int32 {
    historyOf(history)?.stopped == true ? 1 : 0
}

@_cdecl("graft_history_free")
public func graft_history_free(_ history: OpaquePointer?) {
    guard let history else { return }
    Unmanaged<HistoryHandle>.fromOpaque(UnsafeRawPointer(history)).release()
}

@_cdecl("graft_model_evaluate")
public func graft_model_evaluate(_ model: OpaquePointer?, _ dataset: OpaquePointer?, _ progress: graft_progress_fn?,
                                 _ user: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?,
                                 _ accuracy: UnsafeMutablePointer<Double>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let d = try DatasetHandle.from(dataset).dataset
        let (lossOut, accuracyOut) = (try required(loss, "loss"), try required(accuracy, "accuracy"))
        let result = try handle.locked {
            try handle.requireHead().evaluate(d, progress: progressClosure(progress, user))
        }
        lossOut.pointee = result.loss
        accuracyOut.pointee = result.accuracy
    }
}

@_cdecl("graft_model_evaluate_metrics")
public func graft_model_evaluate_metrics(_ model: OpaquePointer?, _ dataset: OpaquePointer?,
                                         _ progress: graft_progress_fn?, _ user: UnsafeMutableRawPointer?,
                                         _ metrics: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    metrics?.pointee = nil
    return catchingErrors {
        let handle = try ModelHandle.from(model)
        let d = try DatasetHandle.from(dataset).dataset
        let out = try required(metrics, "metrics")
        let history = try handle.locked {
            let model = try handle.requireHead()
            var history = History()
            history.topKName = model.topKAccuracy?.name
            history.append(try model.evaluation(d, progress: progressClosure(progress, user)).logs)
            return history
        }
        out.pointee = OpaquePointer(Unmanaged.passRetained(HistoryHandle(history)).toOpaque())
    }
}

@_cdecl("graft_model_confusion_matrix")
public func graft_model_confusion_matrix(_ model: OpaquePointer?, _ dataset: OpaquePointer?,
                                         _ matrix: UnsafeMutablePointer<Int64>?, _ count: Int64) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let d = try DatasetHandle.from(dataset).dataset
        let matrix = try required(matrix, "matrix")
        let confusion = try handle.locked {
            let transfer = try handle.requireHead()
            let classes = transfer.head.labelClasses
            guard count == Int64(classes) * Int64(classes) else {
                throw GraftError.invalidArgument("count is \(count), the head's \(classes) classes need \(classes * classes)")
            }
            return try transfer.evaluation(d).confusionMatrix
        }
        for (k, value) in confusion.joined().enumerated() { matrix[k] = Int64(value) }
    }
}

@_cdecl("graft_model_predict")
public func graft_model_predict(_ model: OpaquePointer?, _ images: UnsafePointer<Float>?, _ count: Int64,
                                _ logits: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let (images, logits) = (try required(images, "images_nhwc"), try required(logits, "logits_out"))
        try handle.locked {
            try handle.requireHead().predict(images: images, count: Int(count), outputs: logits)
        }
    }
}

@_cdecl("graft_model_layer_index")
public func graft_model_layer_index(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let handle = try? ModelHandle.from(model), let name, let text = String(validatingCString: name) else {
        return -1
    }
    return (try? handle.locked { handle.layers.firstIndex { $0.name == text }.map(Int32.init) ?? -1 }) ?? -1
}

@_cdecl("graft_model_layer_weight_count")
public func graft_model_layer_weight_count(_ model: OpaquePointer?, _ index: Int32) -> Int32 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { element(handle.layers, Int(index)).map { Int32($0.weights.count) } ?? -1 }) ?? -1
}

/// Weight `weight` of layer `index`, or an error naming what is out of range
/// (or, with `count`, a buffer of the wrong size).
private func weight(_ handle: ModelHandle, _ index: Int32, _ weight: Int32, count: Int64? = nil) throws -> Tensor {
    let layer = try handle.layer(index)
    guard weight >= 0 && Int(weight) < layer.weights.count else {
        throw GraftError.invalidArgument("layer \(layer.name) has \(layer.weights.count) weights, not a weight \(weight)")
    }
    let tensor = layer.weights[Int(weight)]
    if let count, count != Int64(tensor.count) {
        throw GraftError.invalidArgument(
            "layer \(layer.name) weight \(weight) holds \(tensor.count) floats (shape \(tensor.shape)), not \(count)")
    }
    return tensor
}

@_cdecl("graft_model_layer_weight_shape")
public func graft_model_layer_weight_shape(_ model: OpaquePointer?, _ index: Int32, _ which: Int32,
                                           _ rank: UnsafeMutablePointer<Int32>?,
                                           _ dims: UnsafeMutablePointer<Int64>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let (rank, dims) = (try required(rank, "rank"), try required(dims, "dims"))
        let shape = try handle.locked { try weight(handle, index, which).shape }
        rank.pointee = Int32(shape.count)
        for (i, d) in shape.enumerated() { dims[i] = Int64(d) }
    }
}

@_cdecl("graft_model_get_layer_weight")
public func graft_model_get_layer_weight(_ model: OpaquePointer?, _ index: Int32, _ which: Int32,
                                         _ values: UnsafeMutablePointer<Float>?, _ count: Int64) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let values = try required(values, "values")
        try handle.locked {
            let w = try weight(handle, index, which, count: count)
            values.update(from: w.data, count: w.count)
        }
    }
}

@_cdecl("graft_model_set_layer_weight")
public func graft_model_set_layer_weight(_ model: OpaquePointer?, _ index: Int32, _ which: Int32,
                                         _ values: UnsafePointer<Float>?, _ count: Int64) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let values = try required(values, "values")
        try handle.locked {
            let w = try weight(handle, index, which, count: count)
            w.data.update(from: values, count: w.count)
            if let transfer = handle.transfer { transfer.weightsChanged() } else { handle.model.weightsChanged() }
        }
    }
}
