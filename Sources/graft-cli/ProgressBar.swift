import Foundation
import GraftModel

/// Keras's progress bar for fit and evaluate, as Keras 3 prints it:
///
///     Epoch 3/20
///     12/199 ━━━━━━━━━━━━━━━━━━━━ 3s 41ms/step - accuracy: 0.8125 - loss: 0.6312
///
/// redrawn in place on a terminal (the time is then the estimate of what is
/// left); the line that ends an epoch shows its time and, with validation
/// data, val_accuracy and val_loss. When standard output is not a terminal,
/// only the final line of each epoch (or of an evaluation) is printed.
struct ProgressBar {
    /// fit (an "Epoch i/n" header per epoch) or evaluate.
    let fitting: Bool
    private let interactive = isatty(STDOUT_FILENO) != 0
    private var epoch = -1
    private var epochStarted = 0.0, lastElapsed = 0.0
    private var lastLine = ""
    private static let width = 20

    init(fitting: Bool) { self.fitting = fitting }

    /// The progress callback of fit and evaluate; never asks to stop.
    mutating func report(_ p: TrainingProgress) -> Bool {
        if p.epoch != epoch {
            epoch = p.epoch
            // An epoch begins where the previous one's last report left off.
            epochStarted = lastElapsed
            if fitting { print("Epoch \(p.epoch + 1)/\(p.epochs)") }
        }
        lastElapsed = p.elapsedSeconds
        let elapsed = p.elapsedSeconds - epochStarted
        let perStep = elapsed / Double(max(p.step, 1))
        var metrics = [("accuracy", p.accuracy), ("loss", p.loss)]
        if let valAccuracy = p.valAccuracy, let valLoss = p.valLoss {
            metrics += [("val_accuracy", valAccuracy), ("val_loss", valLoss)]
        }
        let seconds = p.step == p.steps ? elapsed : perStep * Double(p.steps - p.step)
        lastLine = "\(counter(p)) \(bar(p)) \(Int(seconds.rounded()))s \(Self.stepTime(perStep))/step"
            + metrics.map { " - \($0.0): \(kerasFigure($0.1))" }.joined()
        if interactive {
            // Clear to the end of the line: the new text can be shorter.
            print("\r" + lastLine + "\u{1B}[K", terminator: p.epochEnd ? "\n" : "")
            fflush(stdout)
        } else if p.epochEnd {
            print(lastLine)
        }
        return false
    }

    /// Ends an evaluation's line.
    func finishEvaluation() {
        print(interactive ? "" : lastLine)
    }

    private func counter(_ p: TrainingProgress) -> String {
        let steps = String(p.steps), step = String(p.step)
        return String(repeating: " ", count: max(0, steps.count - step.count)) + step + "/" + steps
    }

    private func bar(_ p: TrainingProgress) -> String {
        let filled = p.steps > 0 ? Self.width * p.step / p.steps : Self.width
        let head = String(repeating: "━", count: filled), rest = String(repeating: "━", count: Self.width - filled)
        // Keras draws the finished part bold and the rest dim.
        return interactive ? "\u{1B}[1m" + head + "\u{1B}[0m\u{1B}[2m" + rest + "\u{1B}[0m" : head + rest
    }

    /// Time per step as Keras prints it: 2s, 41ms, 350us.
    static func stepTime(_ seconds: Double) -> String {
        if seconds >= 1 { return "\(Int(seconds.rounded()))s" }
        if seconds >= 1e-3 { return "\(Int((seconds * 1e3).rounded()))ms" }
        return "\(Int((seconds * 1e6).rounded()))us"
    }
}

/// A figure as Keras prints metrics: four decimals (0.8125), or four
/// significant digits with an exponent when tiny (1.2340e-04).
func kerasFigure(_ value: Double) -> String {
    String(format: abs(value) > 1e-3 ? "%.4f" : "%.4e", value)
}
