import CGraftABI
import Foundation
import Testing

// The training workflow through the C ABI, and its bad calls.

private var lastError: String { String(cString: graft_last_error()) }

/// A 32x32 model on the random-weight fixture, and a three-colour dataset.
private func modelAndData(classes: Int = 3) throws -> (OpaquePointer?, OpaquePointer?) {
    var options = graft_model_options()
    graft_model_options_init_sized(&options, MemoryLayout<graft_model_options>.size)
    options.input_height = 32
    options.input_width = 32
    options.num_threads = 2
    var model: OpaquePointer?
    let weights = try Fixtures.path("resnet50_random.h5")
    let status = weights.withCString { path in
        options.weights = path
        return graft_model_create(&options, &model)
    }
    try #require(status == GRAFT_OK, "\(lastError)")
    var pixels: [UInt8] = []
    for i in 0..<12 {
        let colour: [UInt8] = [[220, 30, 30], [30, 200, 60], [40, 50, 210]][i % classes]
        for p in 0..<(32 * 32) { pixels += colour.map { $0 &+ UInt8(truncatingIfNeeded: (p * 7 + i) % 20) } }
    }
    let labels = (0..<12).map { Int32($0 % classes) }
    var dataOptions = graft_dataset_options()
    graft_dataset_options_init_sized(&dataOptions, MemoryLayout<graft_dataset_options>.size)
    dataOptions.batch_size = 4
    dataOptions.seed = 1
    var dataset: OpaquePointer?
    try #require(graft_dataset_from_memory(pixels, labels, 12, 32, 32, Int32(classes), &dataOptions, &dataset) == GRAFT_OK)
    return (model, dataset)
}

private func headOptions(classes: Int32) -> graft_head_options {
    var head = graft_head_options()
    graft_head_options_init_sized(&head, MemoryLayout<graft_head_options>.size)
    head.num_classes = classes
    head.augmentation = Int32(GRAFT_FLIP_HORIZONTAL_AND_VERTICAL.rawValue)
    return head
}

private func adam(_ rate: Float) -> graft_optimizer_options {
    var o = graft_optimizer_options()
    graft_optimizer_options_init_sized(&o, GRAFT_OPTIMIZER_ADAM, MemoryLayout<graft_optimizer_options>.size)
    o.learning_rate = rate
    return o
}

@Test("head, freeze, compile, fit with progress, history, evaluate, predict: through the C ABI")
func trainingThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var o = adam(0.01)
    #expect(graft_model_compile(model, &o) == GRAFT_ERROR_STATE && lastError.contains("head"))
    var head = headOptions(classes: 3)
    #expect(graft_model_add_head(model, &head) == GRAFT_OK, "\(lastError)")
    #expect(graft_model_add_head(model, &head) == GRAFT_ERROR_STATE)
    #expect(graft_model_layer_count(model) == 177 && graft_model_base_layer_count(model) == 175)
    #expect(String(cString: graft_model_layer_name(model, -1)!) == "dense")
    #expect(graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    #expect(graft_model_layer_trainable(model, 3) == 0 && graft_model_layer_trainable(model, -1) == 1)
    #expect(graft_model_layer_trainable(model, 177) == -1)

    var history: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 2, nil, nil, &history) == GRAFT_ERROR_STATE && history == nil)
    #expect(lastError.contains("compile"))
    #expect(graft_model_compile(model, &o) == GRAFT_OK)
    #expect(graft_model_fit(model, dataset, nil, -1, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_fit(model, dataset, nil, 0, nil, nil, &history) == GRAFT_OK && graft_history_epochs(history) == 0)
    graft_history_free(history)
    #expect(graft_model_fit(model, nil, nil, 1, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT)

    final class Calls { var count = 0; var validation: [Double] = [] }
    let calls = Calls()
    let progress: graft_progress_fn = { p, user in
        let calls = Unmanaged<Calls>.fromOpaque(user!).takeUnretainedValue()
        calls.count += 1
        let report = p!.pointee
        if report.epoch_end == 1 { calls.validation.append(report.val_loss) }
        let validationOnlyAtEnd = report.epoch_end == 1 || (report.val_loss.isNaN && report.val_accuracy.isNaN)
        return report.step >= 1 && report.loss.isFinite && validationOnlyAtEnd ? 0 : 1
    }
    let status = graft_model_fit(model, dataset, dataset, 4, progress, Unmanaged.passUnretained(calls).toOpaque(),
                                 &history)
    #expect(status == GRAFT_OK, "\(lastError)")
    defer { graft_history_free(history) }
    // Three batches and one end-of-epoch report per epoch.
    #expect(calls.count == 4 * (3 + 1) && graft_history_epochs(history) == 4 && graft_history_stopped(history) == 0)
    #expect(calls.validation == (0..<4).map { graft_history_value(history, "val_loss", $0) })
    let losses = (0..<4).map { graft_history_value(history, "loss", $0) }
    #expect(losses[3] < losses[0], "\(losses)")
    #expect(graft_history_value(history, "val_accuracy", 3) >= 0.9)
    #expect(graft_history_value(history, "nope", 0).isNaN && graft_history_value(history, "loss", 4).isNaN)

    var loss = 0.0, accuracy = 0.0
    #expect(graft_model_evaluate(model, dataset, nil, nil, &loss, &accuracy) == GRAFT_OK)
    #expect(abs(loss - graft_history_value(history, "val_loss", 3)) <= 1e-5 * loss)
    let stop: graft_progress_fn = { _, _ in 1 }
    #expect(graft_model_evaluate(model, dataset, stop, nil, &loss, &accuracy) == GRAFT_ERROR_CANCELLED)

    var stopped: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 3, stop, nil, &stopped) == GRAFT_OK)
    #expect(graft_history_stopped(stopped) == 1 && graft_history_epochs(stopped) == 0)
    graft_history_free(stopped)

    let red = [Float]((0..<(32 * 32)).flatMap { _ in [220, 30, 30] as [Float] })
    var logits = [Float](repeating: 0, count: 3)
    #expect(graft_model_predict(model, red, 1, &logits) == GRAFT_OK)
    #expect(logits.firstIndex(of: logits.max()!) == 0, "\(logits)")
    #expect(graft_model_predict(model, red, 0, &logits) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_predict(model, nil, 1, &logits) == GRAFT_ERROR_INVALID_ARGUMENT)
}

@Test("bad training options and mismatched datasets are refused, the model stays usable")
func badTrainingThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var head = headOptions(classes: 0)
    #expect(graft_model_add_head(model, &head) == GRAFT_ERROR_INVALID_ARGUMENT)
    head = headOptions(classes: 5)
    head.hidden_units_count = -1
    #expect(graft_model_add_head(model, &head) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("negative"))
    head.hidden_units_count = 2
    #expect(graft_model_add_head(model, &head) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("hidden_units is NULL but options.hidden_units_count is 2"))
    head.hidden_units_count = 0
    #expect(graft_model_add_head(model, &head) == GRAFT_OK)
    for rate: Float in [0, -1, .nan, .infinity] {
        var o = adam(rate)
        #expect(graft_model_compile(model, &o) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("learning_rate"))
    }
    var sgd = graft_optimizer_options()
    graft_optimizer_options_init_sized(&sgd, GRAFT_OPTIMIZER_SGD, MemoryLayout<graft_optimizer_options>.size)
    #expect(sgd.learning_rate == 0.01 && sgd.momentum == 0)
    #expect(graft_model_compile(model, &sgd) == GRAFT_OK)
    var history: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 1, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(lastError.contains("3 classes") && history == nil)
    #expect(graft_model_set_layer_trainable(model, 500, 1) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_set_layer_trainable(nil, 0, 1) == GRAFT_ERROR_INVALID_ARGUMENT)

    // Layer weights by index: a buffer of the wrong size is refused, the right one round-trips.
    let dense = graft_model_layer_index(model, "dense")
    #expect(dense == 176 && graft_model_layer_weight_count(model, dense) == 2)
    var bias = [Float](repeating: 0, count: 5)
    #expect(graft_model_get_layer_weight(model, dense, 1, &bias, 4) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("5 floats"))
    #expect(graft_model_get_layer_weight(model, dense, 2, &bias, 5) == GRAFT_ERROR_INVALID_ARGUMENT)
    bias = [1, 2, 3, 4, 5]
    #expect(graft_model_set_layer_weight(model, dense, 1, bias, 5) == GRAFT_OK)
    var back = [Float](repeating: 0, count: 5)
    #expect(graft_model_get_layer_weight(model, dense, 1, &back, 5) == GRAFT_OK && back == bias)
}

@Test("class names, the layer graph, save and load through the C ABI, with their bad calls")
func modelFileThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    #expect(graft_model_class_count(model) == 0 && graft_model_class_count(nil) == -1)
    #expect(graft_model_save(model, "/tmp/x.h5") == GRAFT_ERROR_STATE && lastError.contains("head"))
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK)
    #expect(graft_model_class_count(model) == 3 && graft_model_class_name(model, 0) == nil)

    // The graph: conv1_conv reads conv1_pad; conv2_block1_add reads two layers.
    let conv = graft_model_layer_index(model, "conv1_conv")
    #expect(String(cString: graft_model_layer_class(model, conv)) == "Conv2D")
    var rank: Int32 = 0
    var dims = [Int64](repeating: 0, count: 4)
    #expect(graft_model_layer_output_shape(model, conv, &rank, &dims) == GRAFT_OK)
    #expect(rank == 3 && Array(dims.prefix(3)) == [16, 16, 64])
    #expect(graft_model_layer_input_count(model, conv) == 1)
    #expect(graft_model_layer_input(model, conv, 0) == graft_model_layer_index(model, "conv1_pad"))
    let add = graft_model_layer_index(model, "conv2_block1_add")
    #expect(graft_model_layer_input_count(model, add) == 2 && graft_model_layer_input(model, add, 2) == -1)
    #expect(String(cString: graft_model_layer_class(model, -1)) == "Dense")
    #expect(graft_model_layer_class(model, 10_000) == nil && graft_model_layer_input_count(model, 10_000) == -1)
    #expect(graft_model_layer_output_shape(model, 10_000, &rank, &dims) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_layer_output_shape(model, conv, nil, &dims) == GRAFT_ERROR_INVALID_ARGUMENT)

    // Class names: a wrong count is refused, the right one kept.
    let words: [String] = ["red", "green", "blue"]
    let names = words.map { word in word.withCString { strdup($0)! } }
    defer { names.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = names.map { UnsafePointer($0) }
    #expect(graft_model_set_class_names(model, &pointers, 2) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_set_class_names(model, nil, 3) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_set_class_names(model, &pointers, 3) == GRAFT_OK)
    #expect(String(cString: graft_model_class_name(model, 2)) == "blue" && graft_model_class_name(model, 3) == nil)

    // Save, load, and the loaded model predicts the same logits.
    var o = adam(0.01)
    try #require(graft_model_compile(model, &o) == GRAFT_OK)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graft-cabi-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/model.h5"
    #expect(graft_model_save(model, path) == GRAFT_OK, "\(lastError)")
    #expect(graft_model_save(nil, path) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_save(model, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_save(model, folder + "/no/such/folder.h5") == GRAFT_ERROR_IO && lastError.contains("does not exist"))
    #expect(graft_model_save(model, folder) == GRAFT_ERROR_IO && lastError.contains("it is a directory"), "\(lastError)")
    var loaded: OpaquePointer?
    #expect(graft_model_load(path, 2, &loaded) == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(loaded) }
    #expect(String(cString: graft_model_class_name(loaded, 1)) == "green")
    #expect(String(cString: graft_model_architecture(loaded)) == "resnet50" && graft_model_architecture(nil) == nil)
    #expect(graft_model_preprocessing(loaded) == Int32(GRAFT_PREPROCESS_CAFFE.rawValue) && graft_model_preprocessing(nil) == -1)
    let images = (0..<(2 * 32 * 32 * 3)).map { Float($0 % 251) }
    var a = [Float](repeating: 0, count: 6), b = [Float](repeating: 1, count: 6)
    #expect(graft_model_predict(model, images, 2, &a) == GRAFT_OK && graft_model_predict(loaded, images, 2, &b) == GRAFT_OK)
    #expect(a == b)
    var history: OpaquePointer?
    #expect(graft_model_fit(loaded, dataset, nil, 1, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    // The format follows the extension, as in Keras: a .keras archive.
    let archive = folder + "/model.keras"
    var fromArchive: OpaquePointer?
    #expect(graft_model_save(model, archive) == GRAFT_OK, "\(lastError)")
    #expect(graft_model_load(archive, 2, &fromArchive) == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(fromArchive) }
    #expect(graft_model_predict(fromArchive, images, 2, &b) == GRAFT_OK && a == b)
    #expect(String(cString: graft_model_class_name(fromArchive, 1)) == "green")

    var other: OpaquePointer? = OpaquePointer(bitPattern: 1)
    #expect(graft_model_load(folder + "/absent.h5", 0, &other) == GRAFT_ERROR_IO && other == nil)
    let keras = try Fixtures.path("resnet50_random.h5")
    #expect(graft_model_load(keras, 0, &other) == GRAFT_ERROR_FORMAT && lastError.contains("not a Graft model"))
    #expect(graft_model_load(path, -1, &other) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_load(nil, 0, &other) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_load(path, 0, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
}

/// The model of `modelAndData` with its head, compiled with Adam, the base frozen.
private func compiledModelAndData() throws -> (OpaquePointer?, OpaquePointer?) {
    let (model, dataset) = try modelAndData()
    var head = headOptions(classes: 3)
    var o = adam(0.01)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_compile(model, &o) == GRAFT_OK)
    try #require(graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    return (model, dataset)
}

@Test("a features call from another thread waits for a running fit: calls on one handle are serialised")
func featuresDuringFit() throws {
    let (model, dataset) = try compiledModelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    // The last residual block trains, so the fit changes what features returns.
    for i in -12 ..< -2 { try #require(graft_model_set_layer_trainable(model, Int32(i), 1) == GRAFT_OK) }

    /// Shared by the fit's progress callback and the features thread.
    final class Events: @unchecked Sendable {
        let model: OpaquePointer?
        let lock = NSLock()
        var reports = 0, reportsWhenFeaturesReturned = -1
        let fitStarted = DispatchSemaphore(value: 0)
        var features = [Float](repeating: 0, count: 2048)
        init(_ model: OpaquePointer?) { self.model = model }
    }
    let events = Events(model)
    let image = [Float](repeating: 0.5, count: 32 * 32 * 3)
    let reader = Thread {
        events.fitStarted.wait()
        let status = graft_model_features(events.model, image, 1, &events.features)
        events.lock.lock()
        events.reportsWhenFeaturesReturned = status == GRAFT_OK ? events.reports : -2
        events.lock.unlock()
    }
    reader.start()
    let progress: graft_progress_fn = { _, user in
        let events = Unmanaged<Events>.fromOpaque(user!).takeUnretainedValue()
        events.lock.lock()
        events.reports += 1
        let first = events.reports == 1
        events.lock.unlock()
        if first {
            // The reader starts now; unserialised, it would finish its
            // features call during this pause, in the middle of the fit.
            events.fitStarted.signal()
            usleep(300_000)
        }
        return 0
    }
    var history: OpaquePointer?
    let status = graft_model_fit(model, dataset, nil, 2, progress, Unmanaged.passUnretained(events).toOpaque(),
                                 &history)
    #expect(status == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    while !reader.isFinished { usleep(1000) }
    events.lock.lock()
    let reportsWhenFeaturesReturned = events.reportsWhenFeaturesReturned
    events.lock.unlock()
    // Three batches and one end-of-epoch report per epoch, all before the features call returned.
    #expect(reportsWhenFeaturesReturned == 2 * (3 + 1))
    var afterFit = [Float](repeating: 0, count: 2048)
    #expect(graft_model_features(model, image, 1, &afterFit) == GRAFT_OK)
    let sameAsAfterFit = events.features == afterFit
    #expect(sameAsAfterFit, "the features call saw weights of the middle of the fit")
}

@Test("a call on the same model from inside a progress callback fails with a state error instead of waiting for itself")
func callFromProgressCallback() throws {
    let (model, dataset) = try compiledModelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    final class Seen { let model: OpaquePointer?; var statuses: [graft_status] = []; var message = ""
        init(_ model: OpaquePointer?) { self.model = model } }
    let seen = Seen(model)
    let progress: graft_progress_fn = { _, user in
        let seen = Unmanaged<Seen>.fromOpaque(user!).takeUnretainedValue()
        var logits = [Float](repeating: 0, count: 3)
        let image = [Float](repeating: 100, count: 32 * 32 * 3)
        seen.statuses.append(graft_model_predict(seen.model, image, 1, &logits))
        seen.message = String(cString: graft_last_error())
        return 0
    }
    var history: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 1, progress, Unmanaged.passUnretained(seen).toOpaque(), &history)
            == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    #expect(seen.statuses == [graft_status](repeating: GRAFT_ERROR_STATE, count: 3 + 1))
    #expect(seen.message.contains("progress callback"), "\(seen.message)")
    #expect(graft_model_layer_trainable(model, -1) == 1, "the model is usable after the fit")
}

@Test("the micro-batch size through the C ABI: set, read, refused without a head or below 0")
func microBatchSizeThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    #expect(graft_model_set_micro_batch_size(model, 4) == GRAFT_ERROR_STATE && lastError.contains("head"))
    #expect(graft_model_micro_batch_size(model) == -1 && graft_model_micro_batch_size(nil) == -1)
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK)
    #expect(graft_model_micro_batch_size(model) == 0)
    #expect(graft_model_set_micro_batch_size(model, -1) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_set_micro_batch_size(model, 3) == GRAFT_OK && graft_model_micro_batch_size(model) == 3)
    var o = adam(0.01)
    try #require(graft_model_compile(model, &o) == GRAFT_OK)
    var history: OpaquePointer?
    // Batches of 4 in parts of at most 3 (parts of 2).
    #expect(graft_model_fit(model, dataset, nil, 1, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    #expect(graft_history_value(history, "loss", 0).isFinite)
    graft_history_free(history)
    #expect(graft_model_set_micro_batch_size(nil, 3) == GRAFT_ERROR_INVALID_ARGUMENT)
}

@Test("optimizers, schedules, clipping and the learning rate through the C ABI")
func optimizersThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    var rate: Float = 0
    #expect(graft_model_learning_rate(model, &rate) == GRAFT_ERROR_STATE && lastError.contains("compile"))
    #expect(graft_model_optimizer_iterations(model) == -1)
    var needed = 0
    #expect(graft_model_optimizer_config(model, nil, 0, &needed) == GRAFT_ERROR_STATE)

    var options = graft_optimizer_options()
    graft_optimizer_options_init_sized(&options, GRAFT_OPTIMIZER_RMSPROP, MemoryLayout<graft_optimizer_options>.size)
    options.clipnorm = 1
    options.clipvalue = 1
    #expect(graft_model_compile(model, &options) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("only one"))
    options.clipvalue = 0
    options.centered = 2
    #expect(graft_model_compile(model, &options) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("centered"))
    options.centered = 1
    options.weight_decay = -1
    #expect(graft_model_compile(model, &options) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("weight_decay"))
    options.weight_decay = 0.01
    options.kind = 9
    #expect(graft_model_compile(model, &options) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("kind"))

    // A schedule: the rate follows the steps taken, and cannot be set.
    var schedule = graft_learning_rate_schedule()
    graft_learning_rate_schedule_init_sized(&schedule, GRAFT_SCHEDULE_EXPONENTIAL_DECAY,
                                            MemoryLayout<graft_learning_rate_schedule>.size)
    (schedule.initial_learning_rate, schedule.decay_steps, schedule.decay_rate) = (0.01, 1, 0.5)
    graft_optimizer_options_init_sized(&options, GRAFT_OPTIMIZER_ADAMW, MemoryLayout<graft_optimizer_options>.size)
    options.global_clipnorm = 1
    withUnsafePointer(to: &schedule) { options.learning_rate_schedule = $0
        #expect(graft_model_compile(model, &options) == GRAFT_OK, "\(lastError)")
    }
    options.learning_rate_schedule = nil
    #expect(graft_model_learning_rate(model, &rate) == GRAFT_OK && rate == 0.01)
    // Keras's serialized form, the schedule nested (Python checks it with keras.optimizers.deserialize).
    #expect(graft_model_optimizer_config(model, nil, 0, &needed) == GRAFT_OK && needed > 1)
    var json = [CChar](repeating: 0, count: needed)
    #expect(graft_model_optimizer_config(model, &json, needed - 1, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_optimizer_config(model, &json, needed, nil) == GRAFT_OK)
    let config = String(cString: json)
    #expect(config.hasPrefix(#"{"module": "keras.optimizers", "class_name": "AdamW", "config": {"name": "adamw", "learning_rate": {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "config": {"name": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 1, "decay_rate": 0.5, "staircase": false}, "registered_name": null}, "beta_1": 0.9"#), "\(config)")
    #expect(config.contains(#""global_clipnorm": 1.0"#) && config.contains(#""clipnorm": null"#), "\(config)")
    var history: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 1, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    let steps = graft_model_optimizer_iterations(model)
    #expect(steps >= 1)
    #expect(graft_model_learning_rate(model, &rate) == GRAFT_OK && rate == 0.01 * pow(0.5, Float(steps)))
    #expect(graft_model_set_learning_rate(model, 0.1) == GRAFT_ERROR_STATE && lastError.contains("schedule"))

    // A constant rate is set between fits, keeping the steps taken.
    graft_optimizer_options_init_sized(&options, GRAFT_OPTIMIZER_SGD, MemoryLayout<graft_optimizer_options>.size)
    #expect(graft_model_compile(model, &options) == GRAFT_OK && graft_model_optimizer_iterations(model) == 0)
    #expect(graft_model_fit(model, dataset, nil, 1, nil, nil, &history) == GRAFT_OK)
    graft_history_free(history)
    #expect(graft_model_set_learning_rate(model, 0.5) == GRAFT_OK)
    #expect(graft_model_learning_rate(model, &rate) == GRAFT_OK && rate == 0.5)
    #expect(graft_model_optimizer_iterations(model) == steps)
    #expect(graft_model_set_learning_rate(model, .nan) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_learning_rate(model, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
}

@Test("save_weights and load_weights through the C ABI: Keras 3's .weights.h5 and a legacy .h5; bad calls change nothing")
func weightsFilesThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    let (other, otherDataset) = try modelAndData()
    defer { graft_model_free(model); graft_model_free(other); graft_dataset_free(dataset); graft_dataset_free(otherDataset) }
    let folder = NSTemporaryDirectory() + "graft-weights-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(graft_model_save_weights(model, folder + "/m.weights.h5") == GRAFT_ERROR_STATE)
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_add_head(other, &head) == GRAFT_OK)
    // Different head weights: the other model's head is drawn from another seed.
    var bias: [Float] = [0.5, -0.25, 1]
    #expect(graft_model_set_layer_weight(model, -1, 1, &bias, 3) == GRAFT_OK, "\(lastError)")
    let pixels = [Float](repeating: 120, count: 32 * 32 * 3)
    func logits(_ m: OpaquePointer?) -> [Float] {
        var out = [Float](repeating: 0, count: 3)
        #expect(graft_model_predict(m, pixels, 1, &out) == GRAFT_OK)
        return out
    }
    let expected = logits(model), before = logits(other)
    #expect(expected != before)

    #expect(graft_model_save_weights(model, folder + "/m.h5") == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains(".weights.h5"))
    #expect(graft_model_save_weights(model, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_load_weights(other, folder + "/missing.weights.h5") == GRAFT_ERROR_IO)
    #expect(graft_model_load_weights(other, folder) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("not supported"))
    #expect(logits(other) == before)

    #expect(graft_model_save_weights(model, folder + "/m.weights.h5") == GRAFT_OK, "\(lastError)")
    #expect(graft_model_load_weights(other, folder + "/m.weights.h5") == GRAFT_OK, "\(lastError)")
    #expect(logits(other) == expected)
    var zero: [Float] = [0, 0, 0]
    #expect(graft_model_set_layer_weight(other, -1, 1, &zero, 3) == GRAFT_OK)
    #expect(graft_model_save(model, folder + "/m.h5") == GRAFT_OK)
    #expect(graft_model_load_weights(other, folder + "/m.h5") == GRAFT_OK, "\(lastError)")
    #expect(logits(other) == expected)
}

@Test("a top-k accuracy through the C ABI: compiled, in fit's history and epoch state, evaluated, saved")
func topKAccuracyThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    var o = adam(0.01)
    var loss = graft_loss_options()
    graft_loss_options_init_sized(&loss, MemoryLayout<graft_loss_options>.size)
    #expect(loss.top_k == 0 && loss.top_k_name == nil)
    loss.top_k = -1
    #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("top_k"))
    loss.top_k = 2
    "val_x".withCString { name in
        loss.top_k_name = name
        #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("val_"))
    }
    loss.top_k_name = nil
    #expect(graft_model_top_k_name(model) == nil)
    #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_OK, "\(lastError)")
    let name = "sparse_top_k_categorical_accuracy"
    #expect(graft_model_top_k_name(model).map { String(cString: $0) } == name)

    var fit = graft_fit_options()
    graft_fit_options_init_sized(&fit, MemoryLayout<graft_fit_options>.size)
    fit.epochs = 1
    final class Seen { var topK = Double.nan, valTopK = Double.nan }
    let seen = Seen()
    fit.on_epoch_end = { state, user in
        let seen = Unmanaged<Seen>.fromOpaque(user!).takeUnretainedValue()
        (seen.topK, seen.valTopK) = (state!.pointee.top_k_accuracy, state!.pointee.val_top_k_accuracy)
        return 0
    }
    fit.callback_user = Unmanaged.passUnretained(seen).toOpaque()
    var history: OpaquePointer?
    #expect(graft_model_fit_with_options(model, dataset, dataset, &fit, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    defer { graft_history_free(history) }
    let trained = graft_history_value(history, name, 0), validated = graft_history_value(history, "val_" + name, 0)
    #expect(trained >= 0 && trained <= 1 && trained == seen.topK)
    #expect(validated == seen.valTopK)

    // evaluate's figures: the validation's after the last step, with the top-2 of 3 classes.
    var metrics: OpaquePointer?
    #expect(graft_model_evaluate_metrics(model, dataset, nil, nil, &metrics) == GRAFT_OK, "\(lastError)")
    #expect(graft_history_value(metrics, name, 0) == validated)
    var plain = (loss: 0.0, accuracy: 0.0)
    #expect(graft_model_evaluate(model, dataset, nil, nil, &plain.loss, &plain.accuracy) == GRAFT_OK)
    // The same figures; the loss to float32's rounding of the logits only: OpenBLAS's AVX2 and AVX-512
    // kernels (the head's product) do not return bit-identical sums from one call to the next.
    #expect(abs(graft_history_value(metrics, "loss", 0) - plain.loss) <= 1e-6 * plain.loss)
    #expect(graft_history_value(metrics, "accuracy", 0) == plain.accuracy)
    graft_history_free(metrics)
    #expect(graft_model_evaluate_metrics(model, nil, nil, nil, &metrics) == GRAFT_ERROR_INVALID_ARGUMENT && metrics == nil)

    // Saved with the model, and reported by the loaded one.
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("graft-top-k-\(getpid()).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(graft_model_save(model, path) == GRAFT_OK, "\(lastError)")
    var loaded: OpaquePointer?
    #expect(graft_model_load(path, 2, &loaded) == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(loaded) }
    #expect(graft_model_top_k_name(loaded).map { String(cString: $0) } == name)
    #expect(graft_model_evaluate_metrics(loaded, dataset, nil, nil, &metrics) == GRAFT_OK)
    #expect(graft_history_value(metrics, name, 0) == validated)
    graft_history_free(metrics)
}

@Test("the binary head through the C ABI: one logit, two classes named, a 2x2 confusion matrix at the threshold, top-k refused, the threshold saved")
func binaryHeadThroughCABI() throws {
    let (model, dataset) = try modelAndData(classes: 2)
    let (spare, threeClasses) = try modelAndData()
    graft_model_free(spare)
    defer { graft_model_free(model); graft_dataset_free(dataset); graft_dataset_free(threeClasses) }
    var head = headOptions(classes: 1)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    #expect(graft_model_class_count(model) == 1)
    var o = adam(0.01)
    var loss = graft_loss_options()
    graft_loss_options_init_sized(&loss, MemoryLayout<graft_loss_options>.size)
    #expect(loss.binary_threshold == 0.5)
    loss.binary_threshold = .nan
    #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("threshold"))
    loss.binary_threshold = 0
    loss.top_k = 1
    #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("binary head"))
    loss.top_k = 0
    #expect(graft_model_compile_with_loss(model, &o, &loss) == GRAFT_OK, "\(lastError)")
    var history: OpaquePointer?
    #expect(graft_model_fit(model, threeClasses, nil, 1, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT
            && lastError.contains("binary head takes 2"))
    #expect(graft_model_fit(model, dataset, nil, 2, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    let names = ["cat", "dog"].map { word in word.withCString { strdup($0)! } }
    defer { names.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = names.map { UnsafePointer($0) }
    #expect(graft_model_set_class_names(model, &pointers, 1) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_set_class_names(model, &pointers, 2) == GRAFT_OK, "\(lastError)")
    #expect(graft_model_class_name(model, 1).map { String(cString: $0) } == "dog")

    // The matrix counts class 1 where the logit is above the threshold, 0.
    var matrix = [Int64](repeating: -1, count: 4)
    #expect(graft_model_confusion_matrix(model, dataset, &matrix, 1) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_confusion_matrix(model, dataset, &matrix, 4) == GRAFT_OK, "\(lastError)")
    var pixels = [Float](repeating: 0, count: 12 * 32 * 32 * 3), labels = [Int32](repeating: 0, count: 12)
    var read: Int64 = 0, iterator: OpaquePointer?
    try #require(graft_dataset_iterate(dataset, &iterator) == GRAFT_OK)
    defer { graft_dataset_iterator_free(iterator) }
    var expected = [Int64](repeating: 0, count: 4)
    while graft_dataset_iterator_next(iterator, &pixels, &labels, &read) == GRAFT_OK && read > 0 {
        var logits = [Float](repeating: 0, count: Int(read))
        #expect(graft_model_predict(model, pixels, read, &logits) == GRAFT_OK)
        for n in 0..<Int(read) { expected[Int(labels[n]) * 2 + (logits[n] > 0 ? 1 : 0)] += 1 }
    }
    #expect(matrix == expected && matrix.reduce(0, +) == 12)

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("graft-binary-\(getpid()).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(graft_model_save(model, path) == GRAFT_OK, "\(lastError)")
    var loaded: OpaquePointer?
    #expect(graft_model_load(path, 2, &loaded) == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(loaded) }
    var again = [Int64](repeating: -1, count: 4)
    #expect(graft_model_confusion_matrix(loaded, dataset, &again, 4) == GRAFT_OK && again == matrix)
    #expect(graft_model_class_count(loaded) == 1 && graft_model_class_name(loaded, 0).map { String(cString: $0) } == "cat")
}

@Test("steps_per_epoch through the C ABI: the passes end to end, an epoch ending with its pass; bad values refused")
func stepsPerEpochThroughCABI() throws {
    let (model, dataset) = try modelAndData()  // 12 images in batches of 4: 3 batches a pass
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    var o = adam(0.01)
    try #require(graft_model_compile(model, &o) == GRAFT_OK)
    var options = graft_fit_options()
    graft_fit_options_init_sized(&options, MemoryLayout<graft_fit_options>.size)
    #expect(options.steps_per_epoch == 0)
    options.steps_per_epoch = -2
    var history: OpaquePointer?
    #expect(graft_model_fit_with_options(model, dataset, nil, &options, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("steps_per_epoch"))
    final class Steps { var perEpoch: [Int32: [Int64]] = [:]; var targets: Set<Int64> = [] }
    let steps = Steps()
    (options.steps_per_epoch, options.epochs) = (2, 4)
    let status = graft_model_fit_with_options(model, dataset, nil, &options, { p, user in
        let steps = Unmanaged<Steps>.fromOpaque(user!).takeUnretainedValue()
        if p!.pointee.epoch_end == 0 { steps.perEpoch[p!.pointee.epoch, default: []].append(p!.pointee.step) }
        steps.targets.insert(p!.pointee.steps)
        return 0
    }, Unmanaged.passUnretained(steps).toOpaque(), &history)
    #expect(status == GRAFT_OK, "\(lastError)")
    graft_history_free(history)
    #expect(steps.perEpoch == [0: [1, 2], 1: [1], 2: [1, 2], 3: [1]])
    #expect(steps.targets == [2], "the bar's target is steps_per_epoch, as Keras's")
    #expect(graft_model_optimizer_iterations(model) == 6)
}

@Test("fit with options through the C ABI: initial epoch, built-in callbacks, epoch callbacks that set the rate, stop, call the model, cancel")
func fitOptionsThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    var head = headOptions(classes: 3)
    try #require(graft_model_add_head(model, &head) == GRAFT_OK && graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    var o = adam(0.01)
    try #require(graft_model_compile(model, &o) == GRAFT_OK)
    let folder = NSTemporaryDirectory() + "graft-fit-options-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }

    var options = graft_fit_options()
    graft_fit_options_init_sized(&options, MemoryLayout<graft_fit_options>.size)
    #expect(options.epochs == 1 && options.initial_epoch == 0 && options.early_stopping.enabled == 0)
    #expect(String(cString: options.early_stopping.monitor) == "val_loss" && options.early_stopping.baseline.isNaN)
    #expect(options.reduce_lr_on_plateau.factor == 0.1 && options.reduce_lr_on_plateau.patience == 10
        && options.reduce_lr_on_plateau.min_delta == 1e-4)

    final class Seen { var begins: [Int32] = []; var ends: [Int32] = []; var weightStatus = GRAFT_ERROR_INTERNAL
        var fitStatus = GRAFT_OK; var model: OpaquePointer?; var dataset: OpaquePointer? }
    let seen = Seen()
    seen.model = model
    seen.dataset = dataset
    options.epochs = 5
    options.initial_epoch = 1
    options.on_epoch_begin = { state, user in
        let seen = Unmanaged<Seen>.fromOpaque(user!).takeUnretainedValue()
        seen.begins.append(state!.pointee.epoch)
        if state!.pointee.epoch == 2 { state!.pointee.learning_rate = 0.001 }  // as a LearningRateScheduler
        return 0
    }
    options.on_epoch_end = { state, user in
        let seen = Unmanaged<Seen>.fromOpaque(user!).takeUnretainedValue()
        seen.ends.append(state!.pointee.epoch)
        // Between steps, the model answers calls; another fit is refused.
        var bias = [Float](repeating: 0, count: 3)
        seen.weightStatus = graft_model_get_layer_weight(seen.model, -1, 1, &bias, 3)
        var history: OpaquePointer?
        seen.fitStatus = graft_model_fit(seen.model, seen.dataset, nil, 1, nil, nil, &history)
        if state!.pointee.epoch == 3 { state!.pointee.stop_training = 1 }
        return 0
    }
    let csv = folder + "/log.csv", checkpoint = folder + "/model-{epoch}.h5"
    var history: OpaquePointer?
    let status = csv.withCString { csvPath in
        checkpoint.withCString { checkpointPath in
            options.csv_logger = csvPath
            options.checkpoint.filepath = checkpointPath
            options.callback_user = Unmanaged.passUnretained(seen).toOpaque()
            return graft_model_fit_with_options(model, dataset, nil, &options, nil, nil, &history)
        }
    }
    #expect(status == GRAFT_OK, "\(lastError)")
    #expect(seen.begins == [1, 2, 3] && seen.ends == [1, 2, 3], "stopped after epoch 3")
    #expect(seen.weightStatus == GRAFT_OK && seen.fitStatus == GRAFT_ERROR_STATE)
    #expect(graft_history_epochs(history) == 3 && graft_history_initial_epoch(history) == 1)
    #expect(graft_history_callback_state(history, "checkpoint.best").isNaN, "no save_best_only: no best kept")
    #expect(graft_history_callback_state(history, "early_stopping.stopped_epoch").isNaN, "no EarlyStopping ran")
    graft_history_free(history)
    var rate: Float = 0
    #expect(graft_model_learning_rate(model, &rate) == GRAFT_OK && rate == 0.001)
    #expect(FileManager.default.fileExists(atPath: folder + "/model-2.h5")
        && FileManager.default.fileExists(atPath: folder + "/model-4.h5"))
    let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\r\n")
    #expect(rows.count == 4 && rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" && rows[1].hasSuffix(",NA,NA"))

    // A callback returning non-zero cancels; bad options are refused by name.
    options.checkpoint.filepath = nil
    options.csv_logger = nil
    options.on_epoch_begin = nil
    options.on_epoch_end = { _, _ in 1 }
    #expect(graft_model_fit_with_options(model, dataset, nil, &options, nil, nil, &history) == GRAFT_ERROR_CANCELLED)
    options.on_epoch_end = nil
    options.reduce_lr_on_plateau.enabled = 1
    options.reduce_lr_on_plateau.factor = 1
    #expect(graft_model_fit_with_options(model, dataset, nil, &options, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("factor"))
    options.reduce_lr_on_plateau.enabled = 0
    options.early_stopping.enabled = 1
    options.early_stopping.mode = 7
    #expect(graft_model_fit_with_options(model, dataset, nil, &options, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("early_stopping.mode"))
    #expect(graft_model_fit_with_options(model, dataset, nil, nil, nil, nil, &history) == GRAFT_ERROR_INVALID_ARGUMENT)
}

/// The model's summary text through the C ABI.
private func summaryText(_ model: OpaquePointer?) -> String {
    var options = graft_summary_options()
    graft_summary_options_init_sized(&options, MemoryLayout<graft_summary_options>.size)
    var needed = 0
    guard graft_model_summary(model, &options, nil, 0, &needed) == GRAFT_OK else { return "" }
    var buffer = [CChar](repeating: 0, count: needed)
    guard graft_model_summary(model, &options, &buffer, needed, nil) == GRAFT_OK else { return "" }
    return String(cString: buffer)
}

@Test("augmentation layers in the head options: trained on, in the summary, saved and loaded; bad lists refused")
func augmentationLayersThroughCABI() throws {
    let (model, dataset) = try modelAndData()
    defer { graft_model_free(model); graft_dataset_free(dataset) }
    func layer(_ kind: graft_augmentation_kind, _ change: (inout graft_augmentation) -> Void = { _ in })
        -> graft_augmentation {
        var a = graft_augmentation()
        graft_augmentation_init_sized(&a, kind, MemoryLayout<graft_augmentation>.size)
        change(&a)
        return a
    }
    func addHead(_ layers: [graft_augmentation], flip: graft_flip = GRAFT_FLIP_NONE) -> graft_status {
        var head = headOptions(classes: 3)
        head.augmentation = Int32(flip.rawValue)
        return layers.withUnsafeBufferPointer { layers in
            head.augmentation_layers = layers.baseAddress
            head.augmentation_layer_count = Int32(layers.count)
            return graft_model_add_head(model, &head)
        }
    }
    let rotation = layer(GRAFT_AUGMENTATION_ROTATION) { $0.factor = (0.1, 0); $0.factor_count = 1 }
    let layers = [layer(GRAFT_AUGMENTATION_FLIP) { $0.flip = Int32(GRAFT_FLIP_HORIZONTAL.rawValue) }, rotation,
                  layer(GRAFT_AUGMENTATION_FLIP)]
    // Refused, the model left without a head.
    #expect(addHead(layers, flip: GRAFT_FLIP_VERTICAL) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("both set"))
    #expect(addHead([layer(GRAFT_AUGMENTATION_CROP) { ($0.height, $0.width) = (32, 32) }]) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("RandomCrop"))
    #expect(addHead([layer(GRAFT_AUGMENTATION_ROTATION)]) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("factor is required"))

    #expect(addHead(layers) == GRAFT_OK, "\(lastError)")
    let summary = summaryText(model)
    for row in ["random_flip (RandomFlip)", "random_rotation ", "(RandomRotation)", "random_flip_1 (RandomFlip)",
                "random_flip_1[0][0]"] {
        #expect(summary.contains(row), "\(row) missing from\n\(summary)")
    }
    #expect(graft_model_set_base_trainable(model, 0) == GRAFT_OK)
    // What fit says before its first epoch, through the printer's note.
    var needed = 0
    #expect(graft_model_feature_cache_note(model, nil, 0, &needed) == GRAFT_OK)
    var note = [CChar](repeating: 0, count: needed)
    #expect(graft_model_feature_cache_note(model, &note, needed, nil) == GRAFT_OK)
    #expect(String(cString: note).hasPrefix("Feature cache: off for training images (RandomRotation make new images"))
    var printer: OpaquePointer?
    #expect(graft_progress_printer_create(1, 2, 0, &printer) == GRAFT_OK)
    defer { graft_progress_printer_free(printer) }
    #expect(graft_progress_printer_set_note(printer, note) == GRAFT_OK)
    var report = graft_progress()
    (report.epochs, report.step, report.steps) = (2, 1, 3)
    var text: UnsafePointer<CChar>?
    #expect(graft_progress_printer_report(printer, &report, 0, 1, &text) == GRAFT_OK)
    #expect(String(cString: text!).hasPrefix(String(cString: note) + "\nEpoch 1/2\n"))
    var o = adam(0.01)
    #expect(graft_model_compile(model, &o) == GRAFT_OK, "\(lastError)")
    var history: OpaquePointer?
    #expect(graft_model_fit(model, dataset, nil, 1, nil, nil, &history) == GRAFT_OK, "\(lastError)")
    graft_history_free(history)

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graft-augmentation-\(getpid())").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var loaded: OpaquePointer?
    #expect(graft_model_save(model, folder + "/model.h5") == GRAFT_OK, "\(lastError)")
    #expect(graft_model_load(folder + "/model.h5", 1, &loaded) == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(loaded) }
    #expect(summaryText(loaded) == summaryText(model))
}
