/// The per-epoch figures of one or more fits, one phase after another (e.g.
/// "frozen" then "fine-tune"), as text: a table to print, CSV to keep, and
/// an SVG chart of accuracy and loss (training and validation per epoch, a
/// dashed line where a phase begins). The one implementation: the `graft`
/// command writes it, C programs (graft_history_text) and the Python package
/// (`graft.history_text`) get the same text.
public struct HistoryReport {
    public struct Epoch {
        public var phase: String
        public var loss: Double, accuracy: Double
        /// NaN without validation data.
        public var valLoss: Double, valAccuracy: Double

        public init(phase: String, loss: Double, accuracy: Double, valLoss: Double = .nan,
                    valAccuracy: Double = .nan) {
            (self.phase, self.loss, self.accuracy, self.valLoss, self.valAccuracy) =
                (phase, loss, accuracy, valLoss, valAccuracy)
        }
    }

    public private(set) var epochs: [Epoch] = []

    public init() {}

    /// Appends one epoch.
    public mutating func append(_ epoch: Epoch) { epochs.append(epoch) }

    /// Appends the epochs of a fit's history as phase `phase`.
    public mutating func append(_ history: History, phase: String) {
        for i in 0..<history.epochs {
            append(Epoch(phase: phase, loss: history.loss[i], accuracy: history.accuracy[i],
                         valLoss: history.valLoss.count > i ? history.valLoss[i] : .nan,
                         valAccuracy: history.valAccuracy.count > i ? history.valAccuracy[i] : .nan))
        }
    }

    private var hasValidation: Bool { epochs.contains { !$0.valLoss.isNaN || !$0.valAccuracy.isNaN } }
    private var hasPhases: Bool { epochs.contains { !$0.phase.isEmpty } }

    /// One line per epoch, Keras's figures (4 decimals, or an exponent when
    /// tiny), columns for the phase and the validation only when there are,
    /// each as wide as its widest entry, two spaces apart:
    ///
    ///     epoch  phase     loss  accuracy  val_loss  val_accuracy
    ///         1  frozen  0.6312    0.8125    0.5871        0.8333
    public var table: String {
        var columns: [(header: String, cells: [String], alignLeft: Bool)] = [
            ("epoch", epochs.indices.map { String($0 + 1) }, false),
        ]
        if hasPhases { columns.append(("phase", epochs.map(\.phase), true)) }
        columns.append(("loss", epochs.map { formatFigure($0.loss) }, false))
        columns.append(("accuracy", epochs.map { formatFigure($0.accuracy) }, false))
        if hasValidation {
            columns.append(("val_loss", epochs.map { formatFigure($0.valLoss) }, false))
            columns.append(("val_accuracy", epochs.map { formatFigure($0.valAccuracy) }, false))
        }
        let widths = columns.map { column in ([column.header] + column.cells).map(\.count).max()! }
        func line(_ row: Int?) -> String {
            zip(columns, widths).map { column, width in
                let text = row.map { column.cells[$0] } ?? column.header
                let padding = String(repeating: " ", count: width - text.count)
                return column.alignLeft ? text + padding : padding + text
            }.joined(separator: "  ")
        }
        return ([line(nil)] + epochs.indices.map { line($0) }).map { trailingSpacesRemoved($0) }
            .joined(separator: "\n") + "\n"
    }

    private func trailingSpacesRemoved(_ line: String) -> String {
        var line = line
        while line.last == " " { line.removeLast() }
        return line
    }

    /// epoch,phase,loss,accuracy,val_loss,val_accuracy (the validation cells
    /// empty without validation); figures at full precision.
    public var csv: String {
        var text = "epoch,phase,loss,accuracy,val_loss,val_accuracy\n"
        for (i, e) in epochs.enumerated() {
            let cells = [String(i + 1), e.phase, "\(e.loss)", "\(e.accuracy)",
                         e.valLoss.isNaN ? "" : "\(e.valLoss)", e.valAccuracy.isNaN ? "" : "\(e.valAccuracy)"]
            text += cells.joined(separator: ",") + "\n"
        }
        return text
    }

    /// Two panels, accuracy then loss, each with the training and (when
    /// present) validation curve per epoch; a dashed line where a phase begins.
    public var svg: String {
        let panelWidth = 420.0, panelHeight = 260.0, margin = 48.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(2 * panelWidth))\" "
            + "height=\"\(Int(panelHeight + 40))\" font-family=\"sans-serif\" font-size=\"11\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        let panels: [(String, (Epoch) -> Double, (Epoch) -> Double)] = [
            ("accuracy", { $0.accuracy }, { $0.valAccuracy }), ("loss", { $0.loss }, { $0.valLoss }),
        ]
        for (p, panel) in panels.enumerated() {
            let left = Double(p) * panelWidth + margin, top = 30.0
            let width = panelWidth - 1.5 * margin, height = panelHeight - margin
            let values = (epochs.map(panel.1) + epochs.map(panel.2)).filter(\.isFinite)
            var low = values.min() ?? 0, high = values.max() ?? 1
            if panel.0 == "accuracy" { (low, high) = (min(low, 0), max(high, 1)) }
            if high - low < 1e-9 { (low, high) = (low - 0.5, high + 0.5) }
            func x(_ i: Int) -> Double { left + width * (epochs.count > 1 ? Double(i) / Double(epochs.count - 1) : 0.5) }
            func y(_ v: Double) -> Double { top + height * (1 - (v - low) / (high - low)) }

            out += "<text x=\"\(left)\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(panel.0)</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#888\"/>\n"
            for t in 0...4 {
                let v = low + (high - low) * Double(t) / 4
                out += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(cFormat("%.3g", v))</text>\n"
            }
            for i in epochs.indices where epochs.count <= 12 || i % ((epochs.count + 11) / 12) == 0 {
                out += "<text x=\"\(x(i))\" y=\"\(top + height + 14)\" text-anchor=\"middle\">\(i + 1)</text>\n"
            }
            out += "<text x=\"\(left + width / 2)\" y=\"\(top + height + 30)\" text-anchor=\"middle\">epoch</text>\n"
            for i in epochs.indices.dropFirst() where epochs[i].phase != epochs[i - 1].phase {
                let at = (x(i - 1) + x(i)) / 2
                out += "<line x1=\"\(at)\" y1=\"\(top)\" x2=\"\(at)\" y2=\"\(top + height)\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n"
                out += "<text x=\"\(at + 3)\" y=\"\(top + 12)\" fill=\"#777\">\(escaped(epochs[i].phase))</text>\n"
            }
            func curve(_ values: [Double], colour: String, label: String, row: Int) {
                let points = values.enumerated().filter { $0.element.isFinite }
                guard !points.isEmpty else { return }
                let path = points.map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                for (i, v) in points { out += "<circle cx=\"\(x(i))\" cy=\"\(y(v))\" r=\"2.5\" fill=\"\(colour)\"/>\n" }
                // The legend sits above the panel, clear of the curves.
                let lx = left + width - 170 + Double(row) * 85
                out += "<line x1=\"\(lx)\" y1=\"14\" x2=\"\(lx + 16)\" y2=\"14\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
                out += "<text x=\"\(lx + 20)\" y=\"18\">\(label)</text>\n"
            }
            curve(epochs.map(panel.1), colour: "#1f77b4", label: "training", row: 0)
            curve(epochs.map(panel.2), colour: "#ff7f0e", label: "validation", row: 1)
        }
        return out + "</svg>\n"
    }

    /// Text safe inside an SVG element.
    private func escaped(_ text: String) -> String {
        text.map { c in
            switch c {
            case "&": "&amp;"
            case "<": "&lt;"
            case ">": "&gt;"
            default: String(c)
            }
        }.joined()
    }
}
