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

/// Keras's ModelCheckpoint: saves the model after every epoch to
/// `filepath` formatted with the epoch (1-based) and the epoch's figures
/// ("model-{epoch:02d}-{val_loss:.2f}.h5"), or only when the monitored
/// quantity improved (`saveBestOnly`). The file is Graft's model file
/// (`TransferModel.save`), which Keras's `load_weights` reads.
public final class ModelCheckpoint: FitCallback {
    public let filepath: String
    public let monitor: Monitor
    public let saveBestOnly: Bool
    /// Kept from one fit to the next, as Keras keeps it; starts at
    /// `initialValueThreshold`.
    public private(set) var best: Double?
    private var lowerIsBetter = true

    public init(filepath: String, monitor: Monitor = Monitor(), saveBestOnly: Bool = false,
                saveWeightsOnly: Bool = false, initialValueThreshold: Double? = nil) throws {
        guard !saveWeightsOnly else {
            throw GraftError.invalidArgument("ModelCheckpoint(save_weights_only=True) writes Keras 3's .weights.h5 format, which Graft does not write yet: save the whole model to a .h5 path (Keras's load_weights reads its weights)")
        }
        guard filepath.hasSuffix(".h5") else {
            throw GraftError.invalidArgument("ModelCheckpoint's filepath must end in .h5 (Graft's model file; Keras's .keras format is not written yet). Received: filepath=\(filepath)")
        }
        _ = try formatPath(filepath, epoch: 1, logs: Logs(), check: true)
        (self.filepath, self.monitor, self.saveBestOnly, self.best) = (filepath, monitor, saveBestOnly, initialValueThreshold)
    }

    public override func trainBegin(_ fit: FitState) throws {
        lowerIsBetter = try monitor.lowerIsBetter("ModelCheckpoint")
    }

    public override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        let path = try formatPath(filepath, epoch: epoch + 1, logs: logs, check: false)
        if saveBestOnly, let current = logs[monitor.name] {
            guard monitor.isImprovement(current, over: best, lowerIsBetter: lowerIsBetter) else { return }
            best = current
        }
        try makeParentFolders(of: path)
        try fit.model.save(to: path)
    }

    public override var finalState: [String: Double] { ["checkpoint.best": best ?? .nan] }
}

/// Keras's CSVLogger: one row per epoch ("epoch" 0-based, then the figures
/// by name, sorted; "val_" columns too even without validation, "NA" where
/// a figure is missing), flushed after each epoch; `append` keeps what the
/// file holds (and its header).
public final class CSVLogger: FitCallback {
    public let filename: String, separator: String, append: Bool
    private var file: UnsafeMutablePointer<FILE>?
    private var keys: [String]?
    private var writeHeader = true

    public init(filename: String, separator: String = ",", append: Bool = false) {
        (self.filename, self.separator, self.append) = (filename, separator, append)
    }

    deinit { close() }

    public override func trainBegin(_ fit: FitState) throws {
        close()
        writeHeader = true
        if append, let existing = fopen(filename, "r") {
            writeHeader = fgetc(existing) == EOF
            fclose(existing)
        }
        guard let opened = fopen(filename, append ? "a" : "w") else {
            throw GraftError.io("CSVLogger cannot open \(filename): \(systemErrorText(errno))")
        }
        file = opened
        keys = nil
    }

    public override func epochEnd(_ epoch: Int, logs: inout Logs, _ fit: FitState) throws {
        guard let file else { return }
        if keys == nil {
            var sorted = logs.names.sorted()
            if !sorted.isEmpty && !sorted.contains(where: { $0.hasPrefix("val_") }) {
                sorted += sorted.map { "val_" + $0 }
            }
            keys = sorted
        }
        var lines = ""
        if writeHeader {
            lines += (["epoch"] + keys!).joined(separator: separator) + "\r\n"
            writeHeader = false
        }
        lines += ([String(epoch)] + keys!.map { logs[$0].map { pythonRepr($0) } ?? "NA" }).joined(separator: separator)
            + "\r\n"
        guard fputs(lines, file) >= 0, fflush(file) == 0 else {
            throw GraftError.io("CSVLogger cannot write \(filename): \(systemErrorText(errno))")
        }
    }

    public override func trainEnd(_ fit: FitState) throws { close() }

    private func close() {
        if let file { fclose(file) }
        file = nil
    }
}

/// Keras's TerminateOnNaN: a loss that is not finite stops the fit there
/// (that epoch's figures, with the loss NaN, are its last) instead of
/// failing it. Graft never applies that batch's step, so the weights are
/// those from before it.
public final class TerminateOnNaN: FitCallback {}

/// A float as Python's repr writes it (what Keras's CSVLogger writes).
func pythonRepr(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    return "\(value)"
}

/// Python's str.format for ModelCheckpoint's paths: "{epoch}",
/// "{epoch:02d}", "{val_loss:.2f}", "{loss:e}", "{{" and "}}". With
/// `check`, only the pattern is checked (any name may appear).
func formatPath(_ pattern: String, epoch: Int, logs: Logs, check: Bool) throws -> String {
    var result = "", index = pattern.startIndex
    func fail(_ why: String) -> GraftError {
        GraftError.invalidArgument("Failed to format this callback filepath: \"\(pattern)\". Reason: \(why)")
    }
    while index < pattern.endIndex {
        let c = pattern[index]
        let next = pattern.index(after: index)
        if (c == "{" || c == "}") && next < pattern.endIndex && pattern[next] == c {
            result.append(c)
            index = pattern.index(after: next)
            continue
        }
        guard c == "{" else {
            guard c != "}" else { throw fail("single '}'") }
            result.append(c)
            index = next
            continue
        }
        guard let close = pattern[next...].firstIndex(of: "}") else { throw fail("single '{'") }
        let field = pattern[next..<close]
        let parts = field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0], spec = parts.count > 1 ? parts[1] : ""
        let value: Double? = name == "epoch" ? Double(epoch) : logs[name]
        if let value {
            result += try formatNumber(value, spec: spec, isInteger: name == "epoch", fail: fail)
        } else if !check {
            throw fail("'\(name)'")
        }
        index = pattern.index(after: close)
    }
    return result
}

/// One number as Python's format spec `spec` writes it: [0][width][.precision][d|f|e|g].
private func formatNumber(_ value: Double, spec: String, isInteger: Bool, fail: (String) -> GraftError) throws -> String {
    guard !spec.isEmpty else { return isInteger ? String(Int(value)) : pythonRepr(value) }
    var rest = Substring(spec)
    let zero = rest.first == "0"
    if zero { rest = rest.dropFirst() }
    let widthDigits = rest.prefix { $0.isNumber }
    rest = rest.dropFirst(widthDigits.count)
    var precision: Int?
    if rest.first == "." {
        let digits = rest.dropFirst().prefix { $0.isNumber }
        precision = Int(digits)
        rest = rest.dropFirst(1 + digits.count)
    }
    let type = rest.first ?? (isInteger ? "d" : "g")
    guard rest.count <= 1, "dfeEgG".contains(type), let width = widthDigits.isEmpty ? 0 : Int(widthDigits),
          width < 256, (precision ?? 0) < 64 else {
        throw fail("unsupported format spec '\(spec)'")
    }
    if type == "d" && !isInteger { throw fail("Unknown format code 'd' for object of type 'float'") }
    let format = "%\(zero ? "0" : "")\(width > 0 ? String(width) : "")" + (type == "d" ? "lld" : ".\(precision ?? 6)\(type)")
    var buffer = [CChar](repeating: 0, count: 512)
    if type == "d" {
        _ = withVaList([Int64(value)]) { vsnprintf(&buffer, buffer.count, format, $0) }
    } else {
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    }
    return String(cString: buffer)
}

/// Creates the folders above `path` that are missing (Keras's makedirs).
private func makeParentFolders(of path: String) throws {
    var folder = ""
    let components = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
    for (i, component) in components.enumerated() {
        folder += (i == 0 ? "" : "/") + component
        guard !component.isEmpty, access(folder, F_OK) != 0 else { continue }
        guard mkdir(folder, 0o777) == 0 || errno == EEXIST else {
            throw GraftError.io("cannot create the folder \(folder): \(systemErrorText(errno))")
        }
    }
}
