import CGraftABI
import Glibc
import GraftFoundation
import GraftModel

/// A time argument: `seconds` on CLOCK_MONOTONIC, or now when negative.
private func monotonic(_ seconds: Double) -> Double {
    seconds < 0 ? monotonicSeconds() : seconds
}

private func verbosity(_ verbose: Int32) throws -> Int {
    guard (0...2).contains(verbose) else {
        throw GraftError.invalidArgument("verbose must be 0, 1 or 2, not \(verbose)")
    }
    return Int(verbose)
}

/// What a graft_progress_printer or graft_progbar handle points to: the
/// text maker and the text it last returned, kept until the next call.
final class TextHandle<Maker> {
    var maker: Maker
    private var text: UnsafeMutablePointer<CChar>?

    init(_ maker: Maker) { self.maker = maker }

    deinit { Glibc.free(text) }

    /// `text` as a C string that stays valid until the next call.
    func hold(_ newText: String) -> UnsafePointer<CChar> {
        Glibc.free(text)
        text = strdup(newText)
        return UnsafePointer(text!)
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    static func from(_ pointer: OpaquePointer?, _ name: String) throws -> TextHandle {
        Unmanaged<TextHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, name))).takeUnretainedValue()
    }

    static func release(_ pointer: OpaquePointer?) {
        guard let pointer else { return }
        Unmanaged<TextHandle>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}

typealias PrinterHandle = TextHandle<ProgressPrinter>
typealias ProgbarHandle = TextHandle<Progbar>

/// Runs `body` on a text handle and hands out the text it returns.
private func withText<Maker>(_ pointer: OpaquePointer?, _ name: String, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                             _ body: (inout Maker) throws -> String) -> graft_status {
    catchingErrors {
        let handle = try TextHandle<Maker>.from(pointer, name)
        let text = try required(text, "text")
        text.pointee = handle.hold(try body(&handle.maker))
    }
}

@_cdecl("graft_progress_printer_create")
public func graft_progress_printer_create(_ verbose: Int32, _ epochs: Int32, _ start: Double,
                                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        guard epochs >= 0 else { throw GraftError.invalidArgument("epochs must be 0 (evaluate) or more, not \(epochs)") }
        out.pointee = PrinterHandle(ProgressPrinter(verbose: try verbosity(verbose), epochs: epochs == 0 ? nil : Int(epochs),
                                                    start: monotonic(start))).opaque
    }
}

@_cdecl("graft_progress_printer_report")
public func graft_progress_printer_report(_ printer: OpaquePointer?, _ report: UnsafePointer<graft_progress>?,
                                          _ dynamic: Int32, _ now: Double,
                                          _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    withText(printer, "printer", text) { (maker: inout ProgressPrinter) in
        let c = try required(report, "report").pointee
        guard c.steps >= 0, c.step >= 0, c.epoch >= 0 else {
            throw GraftError.invalidArgument("the report's epoch, step and steps must not be negative")
        }
        // The top-k fields exist in the caller's struct only if it named the metric.
        let topKName = maker.topKName
        let p = TrainingProgress(epoch: Int(c.epoch), epochs: Int(c.epochs), step: Int(c.step), steps: Int(c.steps),
                                 loss: c.loss, accuracy: c.accuracy, topK: topKName.map { ($0, c.top_k_accuracy) },
                                 elapsedSeconds: c.elapsed_seconds, epochEnd: c.epoch_end != 0, valLoss: c.val_loss,
                                 valAccuracy: c.val_accuracy, valTopK: topKName == nil ? nil : c.val_top_k_accuracy)
        return maker.report(p, now: monotonic(now), dynamic: dynamic != 0)
    }
}

@_cdecl("graft_progress_printer_set_top_k_name")
public func graft_progress_printer_set_top_k_name(_ printer: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> graft_status {
    catchingErrors {
        let handle = try PrinterHandle.from(printer, "printer")
        handle.maker.topKName = try name.map { try string($0, "name") }
    }
}

@_cdecl("graft_progress_printer_set_note")
public func graft_progress_printer_set_note(_ printer: OpaquePointer?, _ note: UnsafePointer<CChar>?) -> graft_status {
    catchingErrors {
        let handle = try PrinterHandle.from(printer, "printer")
        let text = try note.map { try string($0, "note") }
        handle.maker.note = text?.isEmpty == false ? text : nil
    }
}

@_cdecl("graft_progress_printer_end")
public func graft_progress_printer_end(_ printer: OpaquePointer?,
                                       _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    withText(printer, "printer", text) { (maker: inout ProgressPrinter) in maker.end() }
}

@_cdecl("graft_progress_printer_free")
public func graft_progress_printer_free(_ printer: OpaquePointer?) {
    PrinterHandle.release(printer)
}

@_cdecl("graft_progbar_create")
public func graft_progbar_create(_ target: Int64, _ verbose: Int32, _ width: Int32, _ interval: Double,
                                 _ start: Double, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        guard target >= 0 else { throw GraftError.invalidArgument("target must not be negative, not \(target)") }
        guard width >= 0 else { throw GraftError.invalidArgument("width must not be negative, not \(width)") }
        out.pointee = ProgbarHandle(Progbar(target: Int(target), verbose: try verbosity(verbose),
                                            width: width == 0 ? Progbar.defaultWidth : Int(width),
                                            interval: interval < 0 ? Progbar.defaultInterval : interval,
                                            start: monotonic(start))).opaque
    }
}

@_cdecl("graft_progbar_update")
public func graft_progbar_update(_ bar: OpaquePointer?, _ current: Int64,
                                 _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ values: UnsafePointer<Double>?,
                                 _ count: Int32, _ finalize: Int32, _ dynamic: Int32, _ now: Double,
                                 _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    withText(bar, "bar", text) { (maker: inout Progbar) in
        guard count >= 0 else { throw GraftError.invalidArgument("count must not be negative, not \(count)") }
        var figures: [(name: String, value: Double)] = []
        if count > 0 {
            let (names, values) = (try required(names, "names"), try required(values, "values"))
            for i in 0..<Int(count) {
                figures.append((try string(try required(names[i], "names[\(i)]"), "names[\(i)]"), values[i]))
            }
        }
        return maker.update(Int(current), values: figures, finalize: finalize < 0 ? nil : finalize != 0,
                            now: monotonic(now), dynamic: dynamic != 0)
    }
}

@_cdecl("graft_progbar_close")
public func graft_progbar_close(_ bar: OpaquePointer?,
                                _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> graft_status {
    withText(bar, "bar", text) { (maker: inout Progbar) in maker.close() }
}

@_cdecl("graft_progbar_free")
public func graft_progbar_free(_ bar: OpaquePointer?) {
    ProgbarHandle.release(bar)
}
