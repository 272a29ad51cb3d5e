import Glibc
import GraftFoundation
import GraftModel

/// The library's `model.summary()` text (the one C programs and Python
/// print) for `model`, named `name`, at the terminal's width.
func summaryText(_ model: TransferModel, name: String) throws -> String {
    var options = SummaryOptions()
    options.name = name
    options.terminalColumns = terminalColumns()
    return try model.summary(options: options) + "\n"
}

/// The terminal's width as Python's shutil.get_terminal_size finds it (and
/// so Keras's summary): $COLUMNS, else standard output's window, else 80.
private func terminalColumns() -> Int {
    if let value = environmentVariable("COLUMNS"), let columns = Int(value), columns > 0 { return columns }
    var size = winsize()
    if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
    return 80
}
