import Foundation
import GraftFoundation
import GraftKernels
import GraftModel

/// The per-epoch figures of a workflow's fits, one phase after another
/// (e.g. "frozen" then "fine-tune"), written as history.csv and drawn as an
/// SVG chart of accuracy and loss.
struct WorkflowHistory {
    struct Epoch {
        var phase: String
        var loss: Double, accuracy: Double
        var valLoss: Double?, valAccuracy: Double?
    }

    private(set) var epochs: [Epoch] = []

    mutating func append(_ history: History, phase: String) {
        for i in 0..<history.epochs {
            epochs.append(Epoch(phase: phase, loss: history.loss[i], accuracy: history.accuracy[i],
                                valLoss: history.valLoss.count > i ? history.valLoss[i] : nil,
                                valAccuracy: history.valAccuracy.count > i ? history.valAccuracy[i] : nil))
        }
    }

    /// epoch,phase,loss,accuracy,val_loss,val_accuracy (empty without validation).
    var csv: String {
        var text = "epoch,phase,loss,accuracy,val_loss,val_accuracy\n"
        for (i, e) in epochs.enumerated() {
            let cells = [String(i + 1), e.phase, "\(e.loss)", "\(e.accuracy)",
                         e.valLoss.map { "\($0)" } ?? "", e.valAccuracy.map { "\($0)" } ?? ""]
            text += cells.joined(separator: ",") + "\n"
        }
        return text
    }

    /// Two panels, accuracy then loss, each with the training and (when
    /// present) validation curve per epoch; a dashed line where a phase begins.
    var svg: String {
        let panelWidth = 420.0, panelHeight = 260.0, margin = 48.0
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * panelWidth))" height="\(Int(panelHeight + 40))" \
            font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>

            """
        let panels: [(String, (Epoch) -> Double, (Epoch) -> Double?)] = [
            ("accuracy", { $0.accuracy }, { $0.valAccuracy }), ("loss", { $0.loss }, { $0.valLoss }),
        ]
        for (p, panel) in panels.enumerated() {
            let left = Double(p) * panelWidth + margin, top = 30.0
            let width = panelWidth - 1.5 * margin, height = panelHeight - margin
            let training = epochs.map(panel.1), validation = epochs.compactMap(panel.2)
            let values = (training + validation).filter(\.isFinite)
            var low = values.min() ?? 0, high = values.max() ?? 1
            if panel.0 == "accuracy" { (low, high) = (min(low, 0), max(high, 1)) }
            if high - low < 1e-9 { (low, high) = (low - 0.5, high + 0.5) }
            func x(_ i: Int) -> Double { left + width * (epochs.count > 1 ? Double(i) / Double(epochs.count - 1) : 0.5) }
            func y(_ v: Double) -> Double { top + height * (1 - (v - low) / (high - low)) }

            out += "<text x=\"\(left)\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(panel.0)</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#888\"/>\n"
            for t in 0...4 {
                let v = low + (high - low) * Double(t) / 4
                out += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>\n"
            }
            for i in epochs.indices where epochs.count <= 12 || i % ((epochs.count + 11) / 12) == 0 {
                out += "<text x=\"\(x(i))\" y=\"\(top + height + 14)\" text-anchor=\"middle\">\(i + 1)</text>\n"
            }
            out += "<text x=\"\(left + width / 2)\" y=\"\(top + height + 30)\" text-anchor=\"middle\">epoch</text>\n"
            for i in epochs.indices.dropFirst() where epochs[i].phase != epochs[i - 1].phase {
                let at = (x(i - 1) + x(i)) / 2
                out += "<line x1=\"\(at)\" y1=\"\(top)\" x2=\"\(at)\" y2=\"\(top + height)\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n"
                out += "<text x=\"\(at + 3)\" y=\"\(top + 12)\" fill=\"#777\">\(epochs[i].phase)</text>\n"
            }
            func curve(_ points: [(Int, Double)], colour: String, label: String, row: Int) {
                guard !points.isEmpty else { return }
                let path = points.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                for (i, v) in points { out += "<circle cx=\"\(x(i))\" cy=\"\(y(v))\" r=\"2.5\" fill=\"\(colour)\"/>\n" }
                // The legend sits above the panel, clear of the curves.
                let lx = left + width - 170 + Double(row) * 85
                out += "<line x1=\"\(lx)\" y1=\"14\" x2=\"\(lx + 16)\" y2=\"14\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                out += "<text x=\"\(lx + 20)\" y=\"18\">\(label)</text>\n"
            }
            curve(training.enumerated().filter { $0.element.isFinite }.map { ($0.offset, $0.element) },
                  colour: "#1f77b4", label: "training", row: 0)
            curve(epochs.enumerated().compactMap { i, e in panel.2(e).map { (i, $0) } }.filter { $0.1.isFinite },
                  colour: "#ff7f0e", label: "validation", row: 1)
        }
        return out + "</svg>\n"
    }
}

/// Writes `text` to `path`, replacing it.
func writeText(_ text: String, to path: String) throws {
    guard let file = fopen(path, "w") else {
        throw GraftError.io("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    let written = fputs(text, file)
    guard fclose(file) == 0 && written >= 0 else { throw GraftError.io("cannot write \(path)") }
}
