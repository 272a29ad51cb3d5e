import Glibc

/// Keras 3's progress bar (`keras.utils.Progbar`), as text: one pass (an
/// epoch, or an evaluation) drawn as
///
///     12/199 ━━━━━━━━━━━━━━━━━━━━ 3s 41ms/step - accuracy: 0.8125 - loss: 0.6312
///
/// verbose 1 on a stream that can redraw (a terminal, a notebook) redraws the
/// line in place, at most every `interval` seconds and on the last step; on
/// a file or pipe it writes the finished line only. verbose 2 writes
/// `199/199 - 8s - 41ms/step - ...` when the pass ends; verbose 0 nothing.
/// The time per step leaves out the first step (which pays for warm-up), as
/// Keras's does. Times are seconds on one monotonic clock, given by the
/// caller, so that the text depends on nothing else.
///
/// The one implementation of the bar: the `graft` command uses it directly,
/// C programs and the Python package through graft.h's graft_progbar_* and
/// graft_progress_printer_* functions.
public struct Progbar {
    public let target: Int
    public let verbose: Int
    public let width: Int
    public let interval: Double
    private let start: Double
    private var afterFirstStep: Double?
    private var lastDraw = 0.0
    private var previousWidth = 0
    /// Whether a redrawn line still lacks its newline.
    private var openLine = false

    /// Keras's width of the bar and least time between two redraws.
    public static let defaultWidth = 20
    public static let defaultInterval = 0.05

    public init(target: Int, verbose: Int = 1, width: Int = Progbar.defaultWidth,
                interval: Double = Progbar.defaultInterval, start: Double) {
        self.target = target
        self.verbose = verbose
        self.width = width
        self.interval = interval
        self.start = start
    }

    /// The text to write for step `current` of the pass with the figures
    /// `values` (running means, in display order); `finalize` (default:
    /// current >= target) ends the pass's line. `dynamic`: whether the
    /// stream can redraw a line with carriage returns.
    public mutating func update(_ current: Int, values: [(name: String, value: Double)], finalize: Bool? = nil,
                                now: Double, dynamic: Bool) -> String {
        let finalize = finalize ?? (current >= target)
        let perStep = stepDuration(current, now: now)
        let figures = values.map { " - \($0.name): \(formatFigure($0.value))" }.joined()
        let digits = target > 0 ? Int(log10(Double(target))) + 1 : 1
        let count = String(repeating: " ", count: max(0, digits - String(current).count)) + "\(current)/\(target)"
        var text = ""
        if verbose == 1 {
            if !finalize && (!dynamic || now - lastDraw < interval) { return "" }
            let done = max(0, min(width, target > 0 ? Int(Double(width) * Double(current) / Double(target)) : width))
            let timing = finalize ? cFormat("%.0fs", now - start) : formatETA(perStep * Double(target - current))
            let info = timing + formatTimePerStep(perStep) + figures
            if dynamic {
                let bar = done > 0 ? Style.green + String(repeating: "━", count: done) + Style.reset : ""
                let line = Style.bold + count + Style.reset + " " + bar + Style.white
                    + String(repeating: "━", count: width - done) + Style.reset + " " + Style.bold + timing
                    + Style.reset + formatTimePerStep(perStep) + figures
                let visible = count.count + 1 + width + 1 + info.count
                let padding = String(repeating: " ", count: max(0, previousWidth - visible))
                text = "\r" + line + padding + (finalize ? "\n" : "")
                previousWidth = visible
                openLine = !finalize
            } else {
                text = count + " " + String(repeating: "━", count: width) + " " + info + "\n"
            }
            lastDraw = now
        } else if verbose == 2 && finalize {
            text = count + " - " + cFormat("%.0fs", now - start) + " -" + formatTimePerStep(perStep) + figures + "\n"
        }
        return text
    }

    /// Ends a line left open by a pass that stopped early (an interruption,
    /// an error): a newline, or nothing.
    public mutating func close() -> String {
        guard openLine else { return "" }
        openLine = false
        return "\n"
    }

    /// Seconds per step so far, the first step left out once there are more.
    private mutating func stepDuration(_ current: Int, now: Double) -> Double {
        guard current > 0 else { return 0 }
        let duration: Double
        if let afterFirstStep, current > 1 {
            duration = (now - afterFirstStep) / Double(current - 1)
        } else {
            duration = (now - start) / Double(current)
        }
        if current == 1 { afterFirstStep = now }
        return duration
    }

    /// The terminal styles Keras's bar uses.
    private enum Style {
        static let bold = "\u{1B}[1m", green = "\u{1B}[32m", white = "\u{1B}[37m", reset = "\u{1B}[0m"
    }
}

/// A figure as Keras prints it: 4 decimals, or 4 significant digits in
/// exponent form when tiny ("0.8125", "3.0120e-04").
public func formatFigure(_ value: Double) -> String {
    cFormat(abs(value) > 1e-3 ? "%.4f" : "%.4e", value)
}

/// Time per step as Keras writes it: " 41ms/step", " 2s/step", " 850us/step".
public func formatTimePerStep(_ seconds: Double) -> String {
    if seconds >= 1 || seconds == 0 { return cFormat(" %.0fs/step", seconds) }
    if seconds >= 1e-3 { return cFormat(" %.0fms/step", seconds * 1e3) }
    return cFormat(" %.0fus/step", seconds * 1e6)
}

/// Time left as Keras writes it: "3s", "1:05", "1:02:03" (whole seconds,
/// truncated).
public func formatETA(_ seconds: Double) -> String {
    let s = Int(seconds)
    if seconds > 3600 { return cFormat("%d:%02d:%02d", s / 3600, (s % 3600) / 60, s % 60) }
    if seconds > 60 { return cFormat("%d:%02d", s / 60, s % 60) }
    return "\(s)s"
}

/// Seconds on CLOCK_MONOTONIC (Python's time.monotonic()): the clock the
/// progress output's times are on.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// printf-style formatting through the C library, whose rounding of halves
/// (to even, on the exact binary value) is Python's, which Keras prints with.
func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 128)
        let n = Int(vsnprintf(&buffer, buffer.count, format, list))
        if n >= buffer.count {
            buffer = [CChar](repeating: 0, count: n + 1)
            _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        return String(cString: buffer)
    }
}
