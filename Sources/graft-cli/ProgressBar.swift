import Glibc
import GraftModel

/// Keras's progress output for fit and evaluate on standard output: the
/// library's `ProgressPrinter` (the text C programs and the Python package
/// print too), redrawn in place on a terminal, one line per epoch otherwise.
struct ProgressBar {
    private var printer: ProgressPrinter
    private let dynamic = isatty(STDOUT_FILENO) != 0

    /// `epochs` of a fit, or nil for an evaluation; `note`: a line before
    /// the first epoch's (the fit's feature cache note).
    init(epochs: Int?, note: String? = nil) {
        printer = ProgressPrinter(verbose: 1, epochs: epochs, start: monotonicSeconds())
        printer.note = note
    }

    /// The progress callback of fit and evaluate; never asks to stop.
    mutating func report(_ p: TrainingProgress) -> Bool {
        write(printer.report(p, now: monotonicSeconds(), dynamic: dynamic))
        return false
    }

    /// The call returned: ends a line it left open.
    mutating func end() {
        write(printer.end())
    }

    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        fputs(text, stdout)
        fflush(stdout)
    }
}
