import CGraftABI
import Glibc
import GraftFoundation
import GraftModel

/// The C strings of the options' defaults, alive as long as the library.
private let defaultMonitor = strdup("val_loss")!

/// Keras's defaults of fit and of each callback, from the core's.
func defaultFitOptions() -> graft_fit_options {
    var o = graft_fit_options()
    o.struct_size = MemoryLayout<graft_fit_options>.size
    o.epochs = 1
    let early = EarlyStopping(), checkpointMonitor = Monitor()
    o.early_stopping = graft_early_stopping(
        enabled: 0, monitor: UnsafePointer(defaultMonitor), mode: monitorMode(early.monitor.mode),
        min_delta: early.monitor.minDelta, patience: Int32(early.patience), baseline: early.baseline ?? .nan,
        restore_best_weights: early.restoreBestWeights ? 1 : 0, start_from_epoch: Int32(early.startFromEpoch))
    let reduce = try! ReduceLROnPlateau()
    o.reduce_lr_on_plateau = graft_reduce_lr_on_plateau(
        enabled: 0, monitor: UnsafePointer(defaultMonitor), mode: monitorMode(reduce.monitor.mode),
        min_delta: reduce.monitor.minDelta, factor: reduce.factor, patience: Int32(reduce.patience),
        cooldown: Int32(reduce.cooldown), min_lr: reduce.minLR)
    o.checkpoint = graft_model_checkpoint(filepath: nil, monitor: UnsafePointer(defaultMonitor),
                                          mode: monitorMode(checkpointMonitor.mode), save_best_only: 0,
                                          initial_value_threshold: .nan)
    return o
}

@_cdecl("graft_fit_options_init_sized")
public func graft_fit_options_init_sized(_ options: UnsafeMutablePointer<graft_fit_options>?, _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultFitOptions(), to: options, callerSize: structSize)
}

private let monitorModes: [(graft_monitor_mode, Monitor.Mode)] = [
    (GRAFT_MONITOR_AUTO, .auto), (GRAFT_MONITOR_MIN, .min), (GRAFT_MONITOR_MAX, .max),
]

private func monitorMode(_ mode: Monitor.Mode) -> Int32 {
    Int32(bitPattern: monitorModes.first { $0.1 == mode }!.0.rawValue)
}

/// The monitor a callback's C options name.
private func monitor(_ name: UnsafePointer<CChar>?, mode: Int32, minDelta: Double, _ owner: String) throws -> Monitor {
    guard let name, let text = String(validatingCString: name) else {
        throw GraftError.invalidArgument("\(owner).monitor must be a UTF-8 string, not NULL")
    }
    guard let mode = monitorModes.first(where: { Int32(bitPattern: $0.0.rawValue) == mode })?.1 else {
        throw GraftError.invalidArgument("\(owner).mode must be a graft_monitor_mode, not \(mode)")
    }
    return Monitor(text, mode: mode, minDelta: minDelta)
}

/// The core's callbacks for the C options, in the order they run: the
/// caller's epoch callbacks, then the built-in ones, CSVLogger last so that
/// its rows hold the learning rate the others log.
func fitCallbacks(_ c: graft_fit_options, handle: ModelHandle) throws -> [FitCallback] {
    var callbacks: [FitCallback] = []
    if c.on_epoch_begin != nil || c.on_epoch_end != nil {
        callbacks.append(EpochFunctions(begin: c.on_epoch_begin, end: c.on_epoch_end, user: c.callback_user,
                                        handle: handle))
    }
    let checkpoint = c.checkpoint
    if let path = checkpoint.filepath {
        guard let filepath = String(validatingCString: path) else {
            throw GraftError.invalidArgument("checkpoint.filepath must be a UTF-8 path")
        }
        callbacks.append(try ModelCheckpoint(
            filepath: filepath, monitor: try monitor(checkpoint.monitor, mode: checkpoint.mode, minDelta: 0, "checkpoint"),
            saveBestOnly: try flag(checkpoint.save_best_only, "checkpoint.save_best_only"),
            saveWeightsOnly: try flag(c.checkpoint_save_weights_only, "checkpoint_save_weights_only"),
            initialValueThreshold: checkpoint.initial_value_threshold.isNaN ? nil : checkpoint.initial_value_threshold))
    }
    let early = c.early_stopping
    if try flag(early.enabled, "early_stopping.enabled") {
        callbacks.append(EarlyStopping(
            monitor: try monitor(early.monitor, mode: early.mode, minDelta: early.min_delta, "early_stopping"),
            patience: Int(early.patience), baseline: early.baseline.isNaN ? nil : early.baseline,
            restoreBestWeights: try flag(early.restore_best_weights, "early_stopping.restore_best_weights"),
            startFromEpoch: Int(early.start_from_epoch)))
    }
    let reduce = c.reduce_lr_on_plateau
    if try flag(reduce.enabled, "reduce_lr_on_plateau.enabled") {
        callbacks.append(try ReduceLROnPlateau(
            monitor: try monitor(reduce.monitor, mode: reduce.mode, minDelta: reduce.min_delta, "reduce_lr_on_plateau"),
            factor: reduce.factor, patience: Int(reduce.patience), cooldown: Int(reduce.cooldown),
            minLR: reduce.min_lr))
    }
    if try flag(c.terminate_on_nan, "terminate_on_nan") { callbacks.append(TerminateOnNaN()) }
    if try flag(c.log_learning_rate, "log_learning_rate") { callbacks.append(LearningRateLog()) }
    if let path = c.csv_logger {
        guard let filename = String(validatingCString: path) else {
            throw GraftError.invalidArgument("csv_logger must be a UTF-8 path")
        }
        callbacks.append(CSVLogger(filename: filename, append: try flag(c.csv_append, "csv_append")))
    }
    return callbacks
}

/// The caller's epoch callbacks: each sees a graft_epoch_state and may
/// change the learning rate, stop after the epoch, or stop at once.
private final class EpochFunctions: FitCallback {
    let begin: graft_epoch_fn?, end: graft_epoch_fn?
    let user: UnsafeMutableRawPointer?
    let handle: ModelHandle

    init(begin: graft_epoch_fn?, end: graft_epoch_fn?, user: UnsafeMutableRawPointer?, handle: ModelHandle) {
        (self.begin, self.end, self.user, self.handle) = (begin, end, user, handle)
    }

    override func epochBegin(_ epoch: Int, _ fit: FitState) throws {
        try call(begin, epoch: epoch, logs: Logs(), fit)
    }

    override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        try call(end, epoch: epoch, logs: logs, fit)
    }

    private func call(_ function: graft_epoch_fn?, epoch: Int, logs: Logs, _ fit: FitState) throws {
        guard let function else { return }
        let rate = fit.optimizer.learningRate
        let topKName = fit.model.topKAccuracy?.name
        var state = graft_epoch_state(epoch: Int32(epoch), epochs: Int32(fit.epochs), loss: logs["loss"] ?? .nan,
                                      accuracy: logs["accuracy"] ?? .nan, val_loss: logs["val_loss"] ?? .nan,
                                      val_accuracy: logs["val_accuracy"] ?? .nan, learning_rate: rate,
                                      stop_training: 0, top_k_accuracy: topKName.flatMap { logs[$0] } ?? .nan,
                                      val_top_k_accuracy: topKName.flatMap { logs["val_" + $0] } ?? .nan)
        let result = handle.allowingCalls { function(&state, user) }
        guard result == 0 else { throw GraftError(.cancelled, "an epoch callback returned \(result): the fit stopped") }
        if state.learning_rate != rate { try fit.optimizer.setLearningRate(state.learning_rate) }
        if state.stop_training != 0 { fit.stopTraining = true }
    }
}
