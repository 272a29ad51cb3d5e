/// What fit and evaluate print, as Keras's `fit` and `evaluate` print it,
/// fed by their progress reports (`TrainingProgress`): for fit, `Epoch 3/20`
/// before each epoch, then a `Progbar` redrawn after each batch and finished
/// by the end-of-epoch report (made after the epoch's validation), which
/// adds the validation figures; for evaluate, one `Progbar`.
///
/// The one implementation: the `graft` command, C programs
/// (graft_progress_printer_*) and the Python package print its text.
public struct ProgressPrinter {
    public let verbose: Int
    /// Epochs of a fit, or nil for an evaluation (no `Epoch` lines; the bar
    /// ends with the last batch).
    public let epochs: Int?
    /// The top-k accuracy's name, for reports made from C's graft_progress,
    /// whose figures come without it.
    public var topKName: String?
    /// A line printed before the first epoch's (a fit's
    /// `TransferModel.featureCacheNote`), at verbose 1 and 2.
    public var note: String?
    private var epoch = -1
    private var announced = -1
    private var bar: Progbar?
    private var epochStart: Double

    /// `start`: when the call began, in seconds on the clock `report` is given.
    /// In a group of processes, only rank 0 prints (the others' verbose is 0).
    public init(verbose: Int, epochs: Int?, start: Double) {
        self.verbose = ProcessGroup.isPrimary ? verbose : 0
        self.epochs = epochs
        epochStart = start
    }

    /// The text to write for one report, at time `now`; `dynamic`: whether
    /// the stream can redraw a line with carriage returns.
    public mutating func report(_ p: TrainingProgress, now: Double, dynamic: Bool) -> String {
        var text = ""
        if p.epoch != epoch || bar == nil {
            if bar != nil { text += bar!.close() }
            text += announce(p.epoch)
            epoch = p.epoch
            bar = Progbar(target: p.steps, verbose: verbose, start: epochStart)
        }
        // Keras shows the figures sorted by name, the validation ones after.
        var named: [(name: String, value: Double, validation: Double?)] = [
            ("accuracy", p.accuracy, p.valAccuracy), ("loss", p.loss, p.valLoss)]
        if let topK = p.topK { named.append((topK.name, topK.value, p.valTopK)) }
        named.sort { $0.name < $1.name }
        var figures = named.map { (name: $0.name, value: $0.value) }
        if p.epochEnd {
            for figure in named {
                if let value = figure.validation, !value.isNaN { figures.append(("val_" + figure.name, value)) }
            }
            text += bar!.update(p.steps, values: figures, finalize: true, now: now, dynamic: dynamic)
            epochStart = now
            // As Keras: the next epoch's line when it begins.
            if let epochs, p.epoch + 1 < epochs { text += announce(p.epoch + 1) }
        } else {
            // In fit, the epoch's line ends with its end-of-epoch report.
            let last = epochs == nil && p.step >= p.steps
            text += bar!.update(p.step, values: figures, finalize: last, now: now, dynamic: dynamic)
        }
        return text
    }

    /// The call returned, or stopped early: the end of a line left open.
    public mutating func end() -> String {
        guard bar != nil else { return "" }
        return bar!.close()
    }

    /// `Epoch N/M` for 0-based `epoch`, once. (The first waits for the first
    /// report, so that a fit the library refuses prints nothing.)
    private mutating func announce(_ epoch: Int) -> String {
        guard let epochs, epoch > announced, verbose > 0 else { return "" }
        let first = announced < 0
        announced = epoch
        return (first ? note.map { $0 + "\n" } ?? "" : "") + "Epoch \(epoch + 1)/\(epochs)\n"
    }
}
