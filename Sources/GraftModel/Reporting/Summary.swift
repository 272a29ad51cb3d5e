import GraftFoundation

/// `model.summary()`: Keras 3's table of a functional model, in plain text,
///
///     Model: "functional"
///     ┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┓
///     ┃ Layer (type)             ┃ Output Shape       ┃    Param # ┃ Connected to        ┃
///     ┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━┩
///     │ conv1_conv (Conv2D)      │ (None, 50, 50, 64) │      9,472 │ conv1_pad[0][0]     │
///     ...
///      Total params: 23,593,859 (90.00 MB)
///      Trainable params: 6,147 (24.01 KB)
///      Non-trainable params: 23,587,712 (89.98 MB)
///
/// with the column widths, wrapping and totals of Keras's print_summary
/// (which renders with rich): the text Keras prints with a print_fn, without
/// colours. The one implementation: the `graft` command, C programs
/// (graft_model_summary) and the Python package print it.
public struct SummaryOptions {
    /// The model's name, on the first line.
    public var name = "functional"
    /// Total width; nil for Keras's (108, or 120 with `showTrainable`),
    /// at most `terminalColumns` − 4.
    public var lineLength: Int?
    /// Columns of the terminal printed to, when known.
    public var terminalColumns: Int?
    /// Where each column ends, as fractions of the width; nil for Keras's.
    public var positions: [Double]?
    /// A "Trainable" column (Y, N, or - for a layer without weights).
    public var showTrainable = false

    public init() {}

    static let defaultLineLength = 108
    static let defaultPositions = [0.3, 0.56, 0.74, 1.0]
}

/// The summary of `layers` (indices in `inputs` are into the same list),
/// with `augmentation` (weightless layers of the input's shape, each
/// reading the one before) between the input layer and what reads it, as
/// Keras lists a model's augmentation layers.
public func summaryText(_ layers: [Layer], augmentation: [(name: String, className: String)] = [],
                        options: SummaryOptions = SummaryOptions()) throws -> String {
    var header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    var alignment: [Alignment] = [.left, .left, .right, .left]
    var defaultLength = SummaryOptions.defaultLineLength
    var positions = options.positions ?? SummaryOptions.defaultPositions
    if options.showTrainable {
        defaultLength += 12
        positions = positions.map { $0 * 0.90 } + [1.0]
        header.append("Trainable")
        alignment.append(.center)
    }
    if let columns = options.terminalColumns { defaultLength = min(defaultLength, columns - 4) }
    let widths = try columnWidths(lineLength: options.lineLength ?? defaultLength, positions: positions)

    var lines = ["Model: \"\(options.name)\"", rule(widths, "┏", "┳", "┓", "━")]
    lines += row(header, widths, alignment, "┃")
    lines.append(rule(widths, "┡", "╇", "┩", "━"))
    var total = 0, trainable = 0
    func shape(_ dimensions: [Int]) -> String { "(" + (["None"] + dimensions.map(String.init)).joined(separator: ", ") + ")" }
    for (i, layer) in layers.enumerated() {
        if i > 0 { lines.append(rule(widths, "├", "┼", "┤", "─")) }
        let inputs = layer.inputs.map { input in
            guard layers.indices.contains(input) else { return "?[0][0]" }
            // What read the input layer reads the last augmentation layer.
            return "\(input == 0 ? augmentation.last?.name ?? layers[0].name : layers[input].name)[0][0]"
        }
        var cells = ["\(layer.name) (\(layer.kind.className))", shape(layer.outputShape),
                     grouped(layer.parameterCount), inputs.isEmpty ? "-" : inputs.joined(separator: ", ")]
        if options.showTrainable { cells.append(layer.weights.isEmpty ? "-" : layer.trainable ? "Y" : "N") }
        lines += row(cells, widths, alignment, "│")
        total += layer.parameterCount
        if layer.trainable { trainable += layer.weights.prefix(layer.trainedWeightCount).reduce(0) { $0 + $1.count } }
        guard i == 0 else { continue }
        for (k, inserted) in augmentation.enumerated() {
            lines.append(rule(widths, "├", "┼", "┤", "─"))
            var cells = ["\(inserted.name) (\(inserted.className))", shape(layer.outputShape), "0",
                         "\(k == 0 ? layer.name : augmentation[k - 1].name)[0][0]"]
            if options.showTrainable { cells.append("-") }
            lines += row(cells, widths, alignment, "│")
        }
    }
    lines.append(rule(widths, "└", "┴", "┘", "─"))
    for (label, count) in [("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable)] {
        lines.append(" \(label) params: \(grouped(count)) (\(memorySize(count * MemoryLayout<Float>.size)))")
    }
    return lines.joined(separator: "\n")
}

private enum Alignment { case left, right, center }

/// Text width of each column (padding excluded) in a table `lineLength`
/// wide, as Keras asks rich for it and rich shrinks it to fit its borders.
private func columnWidths(lineLength: Int, positions: [Double]) throws -> [Int] {
    var requested: [Int] = [], current = 0
    for position in positions {
        let width = Int(position * Double(lineLength)) - current
        guard width >= 4 else { throw GraftError.invalidArgument("Insufficient console width to print summary.") }
        requested.append(width)
        current += width
    }
    var padded = requested.map { $0 + 2 }
    let available = lineLength - (padded.count + 1)  // one border between and around columns
    let sum = padded.reduce(0, +)
    if sum > available { padded = ratioReduce(sum - available, ratios: padded.map { _ in 1 }, maximums: padded, values: padded) }
    return padded.map { max(1, $0 - 2) }
}

/// rich's ratio_reduce: take `total` from `values` in proportion to `ratios`
/// (Python's round: halves to even).
private func ratioReduce(_ total: Int, ratios: [Int], maximums: [Int], values: [Int]) -> [Int] {
    let ratios = zip(ratios, maximums).map { $1 != 0 ? $0 : 0 }
    var totalRatio = ratios.reduce(0, +)
    guard totalRatio > 0 else { return values }
    var remaining = total, result: [Int] = []
    for (ratio, (maximum, value)) in zip(ratios, zip(maximums, values)) {
        if ratio > 0 && totalRatio > 0 {
            let share = (Double(ratio) * Double(remaining) / Double(totalRatio)).rounded(.toNearestOrEven)
            let distributed = min(maximum, Int(share))
            result.append(value - distributed)
            remaining -= distributed
            totalRatio -= ratio
        } else {
            result.append(value)
        }
    }
    return result
}

/// Word-wraps `text` to `width` as rich does in a table cell: greedy, at
/// spaces; a word longer than the width is cut with an ellipsis.
private func wrap(_ text: String, width: Int) -> [String] {
    // Words with the spaces after them, as Python's re.findall(r"\S+\s*").
    var words: [String] = [], word = ""
    for character in text {
        if character != " " && word.last == " " {
            words.append(word)
            word = ""
        }
        word.append(character)
    }
    if !word.isEmpty || words.isEmpty { words.append(word) }
    var lines: [String] = [], line = ""
    for word in words {
        let trimmedCount = word.count - word.reversed().prefix { $0 == " " }.count
        if line.count + trimmedCount <= width {
            line += word
        } else {
            if !line.isEmpty { lines.append(line) }
            line = word
        }
    }
    lines.append(line)
    return lines.map { line in
        var line = line
        while line.last == " " { line.removeLast() }
        return line.count > width ? String(line.prefix(width - 1)) + "…" : line
    }
}

/// The text lines of one table row.
private func row(_ cells: [String], _ widths: [Int], _ alignment: [Alignment], _ vertical: String) -> [String] {
    let wrapped = zip(cells, widths).map { wrap($0, width: $1) }
    let height = wrapped.map(\.count).max() ?? 1
    return (0..<height).map { n in
        let parts = (0..<cells.count).map { c -> String in
            let text = n < wrapped[c].count ? wrapped[c][n] : ""
            let gap = max(0, widths[c] - text.count)
            switch alignment[c] {
            case .left: return " " + text + String(repeating: " ", count: gap) + " "
            case .right: return " " + String(repeating: " ", count: gap) + text + " "
            case .center:
                // Python's str.center, as CPython splits an odd margin.
                let left = gap / 2 + (gap & widths[c] & 1)
                return " " + String(repeating: " ", count: left) + text
                    + String(repeating: " ", count: gap - left) + " "
            }
        }
        return vertical + parts.joined(separator: vertical) + vertical
    }
}

private func rule(_ widths: [Int], _ left: String, _ middle: String, _ right: String, _ line: String) -> String {
    left + widths.map { String(repeating: line, count: $0 + 2) }.joined(separator: middle) + right
}

/// 23587712 -> "23,587,712".
private func grouped(_ n: Int) -> String {
    var digits = String(n.magnitude), out = ""
    while digits.count > 3 {
        out = "," + digits.suffix(3) + out
        digits.removeLast(3)
    }
    return (n < 0 ? "-" : "") + digits + out
}

/// Bytes as Keras writes them: "89.98 MB", "24.01 KB", "0.00 B".
private func memorySize(_ bytes: Int) -> String {
    var size = Double(bytes)
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size / 1024 < 1 { return cFormat("%.2f ", size) + unit }
        size /= 1024
    }
    return cFormat("%.2f PB", size)
}
