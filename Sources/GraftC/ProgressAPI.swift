import CGraftABI
import Glibc
import GraftFoundation
import GraftModel

/// A time argument: `seconds` on CLOCK_MONOTONIC, or now when negative.
private func monotonic(_ seconds: Double) -> Double {
    seconds < 0 ? monotonicSeconds() : seconds
}

/// The text a progress handle last returned, kept until its next call.
final class TextHolder {
    private var current: UnsafeMutablePointer<CChar>?

    deinit { free(current) }

    /// `text` as a C string that stays valid until the next call.
    func hold(_ text: String) -> UnsafePointer<CChar> {
        free(current)
        current = strdup(text)
        return UnsafePointer(current!)
    }
}

private func verbosity(_ verbose: Int32) throws -> Int {
    guard (0...2).contains(verbose) else {
        throw GraftError.invalidArgument("verbose must be 0, 1 or 2, not \(verbose)")
    }
    return Int(verbose)
}

final class ProgressPrinterHandle {
    var printer: ProgressPrinter
    let text = TextHolder()
    init(_ printer: ProgressPrinter) { self.printer = printer }
}

@_cdecl("graft_progress_printer_create")
public func graft_progress_printer_create(_ verbose: Int32, _ epochs: Int32, _ start: Double,
                                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        guard epochs >= 0 else { throw GraftError.invalidArgument("epochs must be 0 (evaluate) or more, not \(epochs)") }
        let printer = ProgressPrinter(verbose: try verbosity(verbose), epochs: epochs == 0 ? nil : Int(epochs),
                                      start: monotonic(start))
        out.pointee = OpaquePointer(Unmanaged.passRetained(ProgressPrinterHandle(printer)).toOpaque())
    }
}

private func printerHandle(_ pointer: OpaquePointer?) throws -> ProgressPrinterHandle {
    Unmanaged<ProgressPrinterHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, "printer")))
        .takeUnretainedValue()
}

@_cdecl("graft_progress_printer_report")
public func graft_progress_printer_report(_ printer: OpaquePointer?, _ report: UnsafePointer<graft_progress>?,
                                          _ dynamic: Int32, _ now: Double,
                                          _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    catchingErrors {
        let handle = try printerHandle(printer)
        let (c, text) = (try required(report, "report").pointee, try required(text, "text"))
        guard c.steps >= 0, c.step >= 0, c.epoch >= 0 else {
            throw GraftError.invalidArgument("the report's epoch, step and steps must not be negative")
        }
        let p = TrainingProgress(epoch: Int(c.epoch), epochs: Int(c.epochs), step: Int(c.step), steps: Int(c.steps),
                                 loss: c.loss, accuracy: c.accuracy, elapsedSeconds: c.elapsed_seconds,
                                 epochEnd: c.epoch_end != 0, valLoss: c.val_loss, valAccuracy: c.val_accuracy)
        text.pointee = handle.text.hold(handle.printer.report(p, now: monotonic(now), dynamic: dynamic != 0))
    }
}

@_cdecl("graft_progress_printer_end")
public func graft_progress_printer_end(_ printer: OpaquePointer?,
                                       _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    catchingErrors {
        let handle = try printerHandle(printer)
        try required(text, "text").pointee = handle.text.hold(handle.printer.end())
    }
}

@_cdecl("graft_progress_printer_free")
public func graft_progress_printer_free(_ printer: OpaquePointer?) {
    guard let printer else { return }
    Unmanaged<ProgressPrinterHandle>.fromOpaque(UnsafeRawPointer(printer)).release()
}

final class ProgbarHandle {
    var bar: Progbar
    let text = TextHolder()
    init(_ bar: Progbar) { self.bar = bar }
}

@_cdecl("graft_progbar_create")
public func graft_progbar_create(_ target: Int64, _ verbose: Int32, _ width: Int32, _ interval: Double,
                                 _ start: Double, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        guard target >= 0 else { throw GraftError.invalidArgument("target must not be negative, not \(target)") }
        guard width >= 0 else { throw GraftError.invalidArgument("width must not be negative, not \(width)") }
        let bar = Progbar(target: Int(target), verbose: try verbosity(verbose),
                          width: width == 0 ? Progbar.defaultWidth : Int(width),
                          interval: interval < 0 ? Progbar.defaultInterval : interval, start: monotonic(start))
        out.pointee = OpaquePointer(Unmanaged.passRetained(ProgbarHandle(bar)).toOpaque())
    }
}

private func progbarHandle(_ pointer: OpaquePointer?) throws -> ProgbarHandle {
    Unmanaged<ProgbarHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, "bar"))).takeUnretainedValue()
}

@_cdecl("graft_progbar_update")
public func graft_progbar_update(_ bar: OpaquePointer?, _ current: Int64,
                                 _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<Double>?,
                                 _ count: Int32, _ finalize: Int32, _ dynamic: Int32, _ now: Double,
                                 _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    catchingErrors {
        let handle = try progbarHandle(bar)
        let text = try required(text, "text")
        guard count >= 0 else { throw GraftError.invalidArgument("count must not be negative, not \(count)") }
        var figures: [(name: String, value: Double)] = []
        if count > 0 {
            let (names, values) = (try required(names, "names"), try required(values, "values"))
            for i in 0..<Int(count) {
                figures.append((try string(try required(names[i], "names[\(i)]"), "names[\(i)]"), values[i]))
            }
        }
        let finalizing: Bool? = finalize < 0 ? nil : finalize != 0
        text.pointee = handle.text.hold(handle.bar.update(Int(current), values: figures, finalize: finalizing,
                                                          now: monotonic(now), dynamic: dynamic != 0))
    }
}

@_cdecl("graft_progbar_close")
public func graft_progbar_close(_ bar: OpaquePointer?,
                                _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    catchingErrors {
        let handle = try progbarHandle(bar)
        try required(text, "text").pointee = handle.text.hold(handle.bar.close())
    }
}

@_cdecl("graft_progbar_free")
public func graft_progbar_free(_ bar: OpaquePointer?) {
    guard let bar else { return }
    Unmanaged<ProgbarHandle>.fromOpaque(UnsafeRawPointer(bar)).release()
}
