import CGraftABI
import Foundation
import GraftModel
import Testing

// The progress output and the summary through the C ABI: the text the
// `graft` command and the Python package print too (the Python tests compare
// it with Keras's own), and the bad calls.

private var lastError: String { String(cString: graft_last_error()) }

private func report(epoch: Int32, step: Int64, steps: Int64, loss: Double, accuracy: Double,
                    epochEnd: Bool = false, valLoss: Double = .nan, valAccuracy: Double = .nan,
                    topK: Double = .nan, valTopK: Double = .nan) -> graft_progress {
    graft_progress(epoch: epoch, epochs: 2, step: step, steps: steps, loss: loss, accuracy: accuracy,
                   elapsed_seconds: 0, epoch_end: epochEnd ? 1 : 0, val_loss: valLoss, val_accuracy: valAccuracy,
                   top_k_accuracy: topK, val_top_k_accuracy: valTopK)
}

@Test("a fit's progress to a file: the epoch lines and one finished bar per epoch, at Keras's times")
func progressPrinterText() throws {
    var printer: OpaquePointer?
    try #require(graft_progress_printer_create(1, 2, 100, &printer) == GRAFT_OK)
    defer { graft_progress_printer_free(printer) }
    var printed = ""
    func feed(_ r: graft_progress, at now: Double) {
        var r = r, text: UnsafePointer<CChar>?
        #expect(graft_progress_printer_report(printer, &r, 0, now, &text) == GRAFT_OK, "\(lastError)")
        printed += String(cString: text!)
    }
    // Steps at 100.5, 101.5, 102.5 s: the first step's time is left out of the
    // time per step (1 s); the second epoch, reported only at its end, 1 s over 3 steps.
    feed(report(epoch: 0, step: 1, steps: 3, loss: 1.5, accuracy: 0.25), at: 100.5)
    feed(report(epoch: 0, step: 2, steps: 3, loss: 1.25, accuracy: 0.5), at: 101.5)
    feed(report(epoch: 0, step: 3, steps: 3, loss: 1, accuracy: 0.75), at: 102.5)
    feed(report(epoch: 0, step: 3, steps: 3, loss: 1, accuracy: 0.75, epochEnd: true, valLoss: 0.0003012,
                valAccuracy: 0.5), at: 103)
    feed(report(epoch: 1, step: 3, steps: 3, loss: 0.5, accuracy: 1, epochEnd: true), at: 104)
    var end: UnsafePointer<CChar>?
    #expect(graft_progress_printer_end(printer, &end) == GRAFT_OK && String(cString: end!) == "")
    let bar = String(repeating: "━", count: 20)
    #expect(printed == """
        Epoch 1/2
        3/3 \(bar) 3s 1s/step - accuracy: 0.7500 - loss: 1.0000 - val_accuracy: 0.5000 - val_loss: 3.0120e-04
        Epoch 2/2
        3/3 \(bar) 1s 333ms/step - accuracy: 1.0000 - loss: 0.5000

        """, "\(printed)")
}

@Test("a printer given the top-k accuracy's name shows it, sorted by name as Keras shows figures")
func progressPrinterTopK() throws {
    var printer: OpaquePointer?
    try #require(graft_progress_printer_create(2, 2, 100, &printer) == GRAFT_OK)
    defer { graft_progress_printer_free(printer) }
    var text: UnsafePointer<CChar>?
    var r = report(epoch: 0, step: 2, steps: 2, loss: 1, accuracy: 0.5, epochEnd: true, valLoss: 2, valAccuracy: 0.25,
                   topK: 0.75, valTopK: 0.5)
    #expect(graft_progress_printer_report(printer, &r, 0, 101, &text) == GRAFT_OK)
    #expect(!String(cString: text!).contains("top"), "no name given: the fields are not read")
    #expect(graft_progress_printer_set_top_k_name(printer, "a_top_2") == GRAFT_OK)
    r.epoch = 1
    #expect(graft_progress_printer_report(printer, &r, 0, 102, &text) == GRAFT_OK)
    #expect(String(cString: text!).hasSuffix(
        " - a_top_2: 0.7500 - accuracy: 0.5000 - loss: 1.0000 - val_a_top_2: 0.5000 - val_accuracy: 0.2500 - val_loss: 2.0000\n"),
            "\(String(cString: text!))")
    #expect(graft_progress_printer_set_top_k_name(nil, "x") == GRAFT_ERROR_INVALID_ARGUMENT)
}

@Test("a terminal's bar is redrawn in place, and a line left open is ended")
func progbarRedraws() throws {
    var bar: OpaquePointer?
    try #require(graft_progbar_create(199, 1, 0, 0, 0, &bar) == GRAFT_OK)
    defer { graft_progbar_free(bar) }
    let names: [UnsafePointer<CChar>?] = [UnsafePointer(strdup("loss"))]
    defer { names.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    var text: UnsafePointer<CChar>?
    #expect(graft_progbar_update(bar, 12, names, [0.5], 1, -1, 1, 1.2, &text) == GRAFT_OK)
    let line = String(cString: text!)
    #expect(line.hasPrefix("\r\u{1B}[1m 12/199\u{1B}[0m ") && line.hasSuffix(" - loss: 0.5000"), "\(line)")
    #expect(graft_progbar_close(bar, &text) == GRAFT_OK && String(cString: text!) == "\n")
    #expect(graft_progbar_close(bar, &text) == GRAFT_OK && String(cString: text!) == "")
}

@Test("bad progress calls fail cleanly")
func badProgressCalls() {
    var handle: OpaquePointer?
    #expect(graft_progress_printer_create(3, 1, 0, &handle) == GRAFT_ERROR_INVALID_ARGUMENT && handle == nil)
    #expect(lastError.contains("verbose"))
    #expect(graft_progress_printer_create(1, -1, 0, &handle) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progress_printer_create(1, 1, 0, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progbar_create(-1, 1, 0, 0, 0, &handle) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progbar_create(10, 1, -3, 0, 0, &handle) == GRAFT_ERROR_INVALID_ARGUMENT)
    var text: UnsafePointer<CChar>?
    var r = report(epoch: 0, step: 1, steps: 1, loss: 1, accuracy: 1)
    #expect(graft_progress_printer_report(nil, &r, 0, 0, &text) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progbar_update(nil, 1, nil, nil, 0, -1, 0, 0, &text) == GRAFT_ERROR_INVALID_ARGUMENT)
    try? #require(graft_progbar_create(10, 1, 0, 0, 0, &handle) == GRAFT_OK)
    #expect(graft_progbar_update(handle, 1, nil, nil, 2, -1, 0, 0, &text) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progbar_update(handle, 1, nil, nil, 0, -1, 0, 0, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_progbar_update(handle, 10, nil, nil, 0, -1, 0, 0, &text) == GRAFT_OK)
    graft_progbar_free(handle)
    graft_progbar_free(nil)
    graft_progress_printer_free(nil)
}

@Test("the summary through the C ABI: sized, Keras's totals, the base alone, bad buffers and widths")
func summaryThroughCABI() throws {
    var options = graft_model_options()
    graft_model_options_init_sized(&options, MemoryLayout<graft_model_options>.size)
    (options.input_height, options.input_width) = (32, 32)
    var model: OpaquePointer?
    try #require(graft_model_create(&options, &model) == GRAFT_OK)
    defer { graft_model_free(model) }
    var summary = graft_summary_options()
    graft_summary_options_init_sized(&summary, MemoryLayout<graft_summary_options>.size)
    summary.base_only = 1
    var needed = 0
    #expect(graft_model_summary(model, &summary, nil, 0, &needed) == GRAFT_OK && needed > 1000)
    var buffer = [CChar](repeating: 1, count: needed)
    #expect(graft_model_summary(model, &summary, &buffer, needed - 1, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(buffer[0] == 1, "nothing is written to a buffer too small")
    #expect(graft_model_summary(model, &summary, &buffer, needed, nil) == GRAFT_OK)
    let text = String(cString: buffer)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.first == "Model: \"functional\"")
    #expect(lines.filter { $0.hasPrefix("│ ") && $0.contains("(") }.count >= 175)
    // Keras's ResNet50 without top: 23,587,712 weights, 53,120 of them the
    // BatchNormalization statistics that never train.
    #expect(lines.suffix(3) == [" Total params: 23,587,712 (89.98 MB)", " Trainable params: 23,534,592 (89.78 MB)",
                                " Non-trainable params: 53,120 (207.50 KB)"], "\(lines.suffix(3))")
    summary.line_length = 10
    #expect(graft_model_summary(model, &summary, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(lastError.contains("Insufficient console width"))
    #expect(graft_model_summary(model, nil, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_summary(nil, &summary, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
}

@Test("history text: the table, CSV and SVG of two phases, and bad calls")
func historyText() throws {
    let frozen = strdup("frozen")!, fineTune = strdup("fine-tune")!
    defer { free(frozen); free(fineTune) }
    let epochs = [graft_epoch_figures(phase: frozen, loss: 0.6312, accuracy: 0.8125, val_loss: 0.0003012, val_accuracy: 0.5),
                  graft_epoch_figures(phase: fineTune, loss: 0.5, accuracy: 0.875, val_loss: 0.25, val_accuracy: 0.75)]
    func text(_ format: graft_history_format) throws -> String {
        var needed = 0
        try #require(graft_history_text(epochs, 2, Int32(format.rawValue), nil, 0, &needed) == GRAFT_OK)
        var buffer = [CChar](repeating: 0, count: needed)
        try #require(graft_history_text(epochs, 2, Int32(format.rawValue), &buffer, needed, nil) == GRAFT_OK)
        return String(cString: buffer)
    }
    #expect(try text(GRAFT_HISTORY_TABLE) == """
        epoch  phase        loss  accuracy    val_loss  val_accuracy
            1  frozen     0.6312    0.8125  3.0120e-04        0.5000
            2  fine-tune  0.5000    0.8750      0.2500        0.7500

        """)
    #expect(try text(GRAFT_HISTORY_CSV) == """
        epoch,phase,loss,accuracy,val_loss,val_accuracy
        1,frozen,0.6312,0.8125,0.0003012,0.5
        2,fine-tune,0.5,0.875,0.25,0.75

        """)
    let svg = try text(GRAFT_HISTORY_SVG)
    #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains(">fine-tune</text>"))
    var needed = 0
    #expect(graft_history_text(epochs, 2, 7, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_history_text(nil, 2, 0, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_history_text(epochs, -1, 0, nil, 0, &needed) == GRAFT_ERROR_INVALID_ARGUMENT)
    var small = [CChar](repeating: 0, count: 4)
    #expect(graft_history_text(epochs, 2, 0, &small, 4, &needed) == GRAFT_ERROR_INVALID_ARGUMENT && needed > 4)
    #expect(graft_history_text(nil, 0, 0, nil, 0, &needed) == GRAFT_OK)
}
