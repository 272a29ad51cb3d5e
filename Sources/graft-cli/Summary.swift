import GraftModel

/// The text of `model.summary()` as Keras prints it for a functional model:
/// each layer with its type, output shape, parameter count and inputs, then
/// the totals (BatchNormalization's moving statistics and a frozen layer's
/// weights are non-trainable).
func summaryText(_ model: TransferModel, name: String) -> String {
    let layers = model.layers
    var rows = [["Layer (type)", "Output Shape", "Param #", "Connected to"]]
    var trainable = 0, total = 0
    for layer in layers {
        let shape = "(None, " + layer.outputShape.map(String.init).joined(separator: ", ") + ")"
        let inputs = layer.inputs.isEmpty ? "-" : layer.inputs.map { "\(layers[$0].name)[0][0]" }.joined(separator: ", ")
        rows.append(["\(layer.name) (\(layer.kind.className))", shape, grouped(layer.parameterCount), inputs])
        total += layer.parameterCount
        guard layer.trainable else { continue }
        if case .batchNormalization = layer.kind {
            trainable += layer.weights.prefix(2).reduce(0) { $0 + $1.count }  // gamma and beta
        } else {
            trainable += layer.parameterCount
        }
    }
    let widths = (0..<4).map { c in rows.map { $0[c].count }.max()! }
    func line(_ left: String, _ fill: String, _ join: String, _ right: String) -> String {
        left + widths.map { String(repeating: fill, count: $0 + 2) }.joined(separator: join) + right + "\n"
    }
    func row(_ cells: [String], _ edge: String) -> String {
        let padded = cells.enumerated().map { c, text in
            let pad = String(repeating: " ", count: widths[c] - text.count)
            return " " + (c == 2 ? pad + text : text + pad) + " "  // parameter counts right-aligned
        }
        return edge + padded.joined(separator: edge) + edge + "\n"
    }
    var text = "Model: \"\(name)\"\n" + line("┏", "━", "┳", "┓") + row(rows[0], "┃") + line("┡", "━", "╇", "┩")
    for (i, cells) in rows.dropFirst().enumerated() {
        if i > 0 { text += line("├", "─", "┼", "┤") }
        text += row(cells, "│")
    }
    text += line("└", "─", "┴", "┘")
    text += " Total params: \(grouped(total)) (\(memorySize(total * 4)))\n"
    text += " Trainable params: \(grouped(trainable)) (\(memorySize(trainable * 4)))\n"
    text += " Non-trainable params: \(grouped(total - trainable)) (\(memorySize((total - trainable) * 4)))\n"
    return text
}

/// 23587712 -> "23,587,712".
private func grouped(_ n: Int) -> String {
    var digits = String(n), out = ""
    while digits.count > 3 {
        out = "," + digits.suffix(3) + out
        digits.removeLast(3)
    }
    return digits + out
}

/// Bytes as Keras prints them: "89.98 MB" (powers of 1024).
private func memorySize(_ bytes: Int) -> String {
    var value = Double(bytes), unit = 0
    let units = ["B", "KB", "MB", "GB", "TB"]
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    let hundredths = Int((value * 100).rounded())
    let fraction = String(hundredths % 100)
    return "\(hundredths / 100).\(fraction.count == 1 ? "0" + fraction : fraction) \(units[unit])"
}
