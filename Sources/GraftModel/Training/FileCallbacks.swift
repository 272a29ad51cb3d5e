import Glibc
import GraftFoundation

// The callbacks that write files: ModelCheckpoint (its path formatted as
// Python's str.format does) and CSVLogger (floats as Python's repr). In a
// group of processes (`ProcessGroup`), only rank 0 writes; the others keep
// the same state.

/// Keras's ModelCheckpoint: saves the model after every epoch to
/// `filepath` formatted with the epoch (1-based) and the epoch's figures
/// ("model-{epoch:02d}-{val_loss:.2f}.h5"), or only when the monitored
/// quantity improved (`saveBestOnly`). The file is Graft's model file
/// (`TransferModel.save`, which Keras's `load_weights` reads), or with
/// `saveWeightsOnly` Keras 3's weights file (`TransferModel.saveWeights`).
public final class ModelCheckpoint: FitCallback {
    public let filepath: String
    public let monitor: Monitor
    public let saveBestOnly: Bool
    /// Whether it writes the weights alone (Keras 3's .weights.h5) rather
    /// than the model (`save`: a .keras archive or Graft's .h5).
    public let saveWeightsOnly: Bool
    /// Kept from one fit to the next, as Keras keeps it; starts at
    /// `initialValueThreshold`.
    public private(set) var best: Double?
    private var lowerIsBetter = true

    public init(filepath: String, monitor: Monitor = Monitor(), saveBestOnly: Bool = false,
                saveWeightsOnly: Bool = false, initialValueThreshold: Double? = nil) throws {
        if saveWeightsOnly {
            guard filepath.hasSuffix(TransferModel.weightsFileSuffix) else {
                throw GraftError.invalidArgument("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end in `.weights.h5` (Keras weights format). Received: filepath=\(filepath)")
            }
        } else {
            guard (filepath.hasSuffix(".h5") && !filepath.hasSuffix(TransferModel.weightsFileSuffix))
                    || filepath.hasSuffix(TransferModel.kerasArchiveSuffix) else {
                throw GraftError.invalidArgument("The filepath provided must end in `.keras` (Keras model format) or `.h5` (a `.weights.h5` path takes save_weights_only=True). Received: filepath=\(filepath)")
            }
        }
        _ = try formatPath(filepath, epoch: 1, logs: Logs(), check: true)
        (self.filepath, self.monitor, self.saveBestOnly, self.saveWeightsOnly) = (filepath, monitor, saveBestOnly, saveWeightsOnly)
        best = initialValueThreshold
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
        guard ProcessGroup.isPrimary else { return }
        try makeParentFolders(of: path)
        if saveWeightsOnly { try fit.model.saveWeights(to: path) } else { try fit.model.save(to: path) }
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
        guard ProcessGroup.isPrimary else { return }
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
