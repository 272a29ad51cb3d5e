import Glibc
import GraftFoundation

/// One epoch's figures by Keras's names ("accuracy", "loss", "val_accuracy",
/// "val_loss", and "learning_rate" when a callback adds it), in that order.
public struct Logs {
    public private(set) var entries: [(name: String, value: Double)] = []

    public init(_ entries: [(name: String, value: Double)] = []) { self.entries = entries }

    public subscript(name: String) -> Double? {
        get { entries.first { $0.name == name }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.name == name }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append((name, newValue))
            }
        }
    }

    public var names: [String] { entries.map(\.name) }

    /// "accuracy: 0.8125 - loss: 0.6312", as Keras's progress bar shows figures.
    public var line: String { entries.map { "\($0.name): \(formatFigure($0.value))" }.joined(separator: " - ") }
}

/// What a callback sees of the fit in progress, and may change.
public final class FitState {
    public let model: TransferModel
    /// The fit's last epoch + 1 (Keras's `epochs`).
    public let epochs: Int
    /// Set to stop after this epoch (Keras's `model.stop_training`).
    public var stopTraining = false

    public init(model: TransferModel, epochs: Int) {
        (self.model, self.epochs) = (model, epochs)
    }

    public var optimizer: Optimizer {
        // fit refuses to start without one.
        model.optimizer!
    }
}

/// A Keras callback: called when the fit begins and ends, and at the
/// beginning and end of every epoch (after its validation), in the order
/// of the fit's list. Subclasses override what they need.
open class FitCallback {
    public init() {}
    open func trainBegin(_ fit: FitState) throws {}
    open func epochBegin(_ epoch: Int, _ fit: FitState) throws {}
    open func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {}
    open func trainEnd(_ fit: FitState) throws {}
    /// What the callback ends a fit with, by Keras's attribute names
    /// prefixed with the callback's ("early_stopping.stopped_epoch"); NaN
    /// for Keras's None. The fit's History keeps it.
    open var finalState: [String: Double] { [:] }
}

/// Keras's monitored quantity (MonitorCallback): its name, whether lower
/// or higher is better, and by how much it must improve.
public struct Monitor: Equatable {
    public enum Mode: String { case auto, min, max }

    public var name: String
    public var mode: Mode
    public var minDelta: Double

    public init(_ name: String = "val_loss", mode: Mode = .auto, minDelta: Double = 0) {
        (self.name, self.mode, self.minDelta) = (name, mode, minDelta)
    }

    /// Whether lower is better: "auto" knows the losses (lower) and the
    /// accuracies (higher), as Keras's metrics' directions say.
    func lowerIsBetter(_ owner: String) throws -> Bool {
        switch mode {
        case .min: return true
        case .max: return false
        case .auto:
            let metric = name.hasPrefix("val_") ? String(name.dropFirst(4)) : name
            if metric == "loss" { return true }
            if metric == "accuracy" { return false }
            throw GraftError.invalidArgument("\(owner) received monitor=\(name), but cannot determine whether that metric should be maximized or minimized. Pass mode=\"max\" or mode=\"min\".")
        }
    }

    /// Keras's `_is_improvement`: current ∓ |min_delta| beats the reference
    /// (nil: nothing to beat yet).
    func isImprovement(_ current: Double, over reference: Double?, lowerIsBetter: Bool) -> Bool {
        guard let reference else { return true }
        let delta = abs(minDelta)
        return lowerIsBetter ? current + delta < reference : current - delta > reference
    }
}

/// Keras's EarlyStopping: stop when the monitored quantity has not improved
/// for `patience` epochs (after `startFromEpoch`); with
/// `restoreBestWeights`, the weights of the best epoch are put back when
/// the fit ends. Its state starts afresh with every fit, so one instance
/// serves both phases of a transfer-learning run.
public final class EarlyStopping: FitCallback {
    public let monitor: Monitor
    public let patience: Int
    public let baseline: Double?
    public let restoreBestWeights: Bool
    public let startFromEpoch: Int
    public private(set) var wait = 0
    /// The epoch the fit stopped at (0 if it did not stop), as Keras's.
    public private(set) var stoppedEpoch = 0
    public private(set) var best: Double?
    public private(set) var bestEpoch = 0
    private var bestWeights: [[[Float]]]?
    private var lowerIsBetter = true

    public init(monitor: Monitor = Monitor(), patience: Int = 0, baseline: Double? = nil,
                restoreBestWeights: Bool = false, startFromEpoch: Int = 0) {
        (self.monitor, self.patience, self.baseline) = (monitor, patience, baseline)
        (self.restoreBestWeights, self.startFromEpoch) = (restoreBestWeights, startFromEpoch)
    }

    public override func trainBegin(_ fit: FitState) throws {
        lowerIsBetter = try monitor.lowerIsBetter("EarlyStopping")
        (wait, stoppedEpoch, best, bestWeights, bestEpoch) = (0, 0, nil, nil, 0)
    }

    public override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        guard let current = logs[monitor.name], epoch >= startFromEpoch else { return }
        if restoreBestWeights && bestWeights == nil {
            bestWeights = fit.model.trainableWeights()
            bestEpoch = epoch
        }
        wait += 1
        if monitor.isImprovement(current, over: best, lowerIsBetter: lowerIsBetter) {
            best = current
            bestEpoch = epoch
            if restoreBestWeights { bestWeights = fit.model.trainableWeights() }
            // The wait restarts only past both the baseline and the best.
            if baseline == nil || monitor.isImprovement(current, over: baseline, lowerIsBetter: lowerIsBetter) {
                wait = 0
            }
            return
        }
        if wait >= patience && epoch > 0 {
            stoppedEpoch = epoch
            fit.stopTraining = true
        }
    }

    public override func trainEnd(_ fit: FitState) throws {
        if restoreBestWeights, let bestWeights { fit.model.setTrainableWeights(bestWeights) }
    }

    public override var finalState: [String: Double] {
        ["early_stopping.stopped_epoch": Double(stoppedEpoch), "early_stopping.best_epoch": Double(bestEpoch),
         "early_stopping.wait": Double(wait), "early_stopping.best": best ?? .nan]
    }
}

/// Keras's ReduceLROnPlateau: the learning rate times `factor` (not below
/// `minLR`) when the monitored quantity has not improved for `patience`
/// epochs, then `cooldown` epochs before counting again.
public final class ReduceLROnPlateau: FitCallback {
    public let monitor: Monitor
    public let factor: Double, patience: Int, cooldown: Int, minLR: Double
    public private(set) var wait = 0, cooldownCounter = 0
    public private(set) var best: Double?
    private var lowerIsBetter = true

    /// Keras's defaults (the C ABI, the command and Python read them here).
    public static let defaultMinDelta = 1e-4, defaultFactor = 0.1, defaultPatience = 10

    public init(monitor: Monitor = Monitor(minDelta: defaultMinDelta), factor: Double = defaultFactor,
                patience: Int = defaultPatience, cooldown: Int = 0, minLR: Double = 0) throws {
        guard factor < 1 else {
            throw GraftError.invalidArgument("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=\(factor)")
        }
        (self.monitor, self.factor, self.patience, self.cooldown, self.minLR) = (monitor, factor, patience, cooldown, minLR)
    }

    public override func trainBegin(_ fit: FitState) throws {
        lowerIsBetter = try monitor.lowerIsBetter("ReduceLROnPlateau")
        (best, cooldownCounter, wait) = (nil, 0, 0)
    }

    public override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        logs["learning_rate"] = Double(fit.optimizer.learningRate)
        guard let current = logs[monitor.name] else { return }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            wait = 0
        }
        if monitor.isImprovement(current, over: best, lowerIsBetter: lowerIsBetter) {
            best = current
            wait = 0
        } else if cooldownCounter == 0 {
            wait += 1
            guard wait >= patience else { return }
            let old = Double(fit.optimizer.learningRate)
            if old > Double(Float(minLR)) {
                try fit.optimizer.setLearningRate(Float(max(old * factor, minLR)))
                cooldownCounter = cooldown
                wait = 0
            }
        }
    }

    public override var finalState: [String: Double] {
        ["reduce_lr_on_plateau.wait": Double(wait), "reduce_lr_on_plateau.cooldown_counter": Double(cooldownCounter),
         "reduce_lr_on_plateau.best": best ?? .nan]
    }
}

/// Records the learning rate in each epoch's logs ("learning_rate"), as
/// Keras's LearningRateScheduler and ReduceLROnPlateau do.
public class LearningRateLog: FitCallback {
    public override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        logs["learning_rate"] = Double(fit.optimizer.learningRate)
    }
}

/// Keras's LearningRateScheduler: before each epoch, the learning rate
/// becomes `schedule(epoch, current rate)`.
public final class LearningRateScheduler: LearningRateLog {
    let schedule: (Int, Float) throws -> Float

    public init(_ schedule: @escaping (_ epoch: Int, _ learningRate: Float) throws -> Float) {
        self.schedule = schedule
    }

    public override func epochBegin(_ epoch: Int, _ fit: FitState) throws {
        try fit.optimizer.setLearningRate(try schedule(epoch, fit.optimizer.learningRate))
    }
}

/// Keras's TerminateOnNaN: a loss that is not finite stops the fit there
/// (that epoch's figures, with the loss NaN, are its last) instead of
/// failing it. Graft never applies that batch's step, so the weights are
/// those from before it.
public final class TerminateOnNaN: FitCallback {}
