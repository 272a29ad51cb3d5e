import CGraftABI
import Glibc
import GraftFoundation
import GraftModel

func defaultSummaryOptions() -> graft_summary_options {
    graft_summary_options(struct_size: MemoryLayout<graft_summary_options>.size, name: nil, line_length: 0,
                          terminal_columns: 0, positions: nil, positions_count: 0, show_trainable: 0, base_only: 0)
}

@_cdecl("graft_summary_options_init_sized")
public func graft_summary_options_init_sized(_ options: UnsafeMutablePointer<graft_summary_options>?,
                                             _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultSummaryOptions(), to: options, callerSize: structSize)
}

@_cdecl("graft_model_summary")
public func graft_model_summary(_ model: OpaquePointer?, _ options: UnsafePointer<graft_summary_options>?,
                                _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                _ needed: UnsafeMutablePointer<Int>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let c = try readOptions(try required(options, "options"), defaults: defaultSummaryOptions(),
                                initFunction: "graft_summary_options_init")
        var o = SummaryOptions()
        if let name = c.name { o.name = try string(name, "options.name") }
        guard c.line_length >= 0, c.terminal_columns >= 0, c.positions_count >= 0 else {
            throw GraftError.invalidArgument("line_length, terminal_columns and positions_count must not be negative")
        }
        if c.line_length > 0 { o.lineLength = Int(c.line_length) }
        if c.terminal_columns > 0 { o.terminalColumns = Int(c.terminal_columns) }
        if c.positions_count > 0 {
            let positions = try required(c.positions, "options.positions")
            o.positions = (0..<Int(c.positions_count)).map { positions[$0] }
        }
        o.showTrainable = c.show_trainable != 0
        let text = try handle.locked {
            if c.base_only == 0, let transfer = handle.transfer { return try transfer.summary(options: o) }
            return try summaryText(handle.model.base.layers, options: o)
        }
        try copyText(text, to: buffer, capacity: capacity, needed: needed)
    }
}

@_cdecl("graft_model_feature_cache_note")
public func graft_model_feature_cache_note(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                           _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let note = try handle.locked {
            guard let transfer = handle.transfer else {
                throw GraftError(.state, "the model has no head: only a model with a head is fitted")
            }
            return transfer.featureCacheNote ?? ""
        }
        try copyText(note, to: buffer, capacity: capacity, needed: needed)
    }
}

/// Copies `text` with its NUL into a caller's buffer of `capacity` bytes,
/// setting *needed to the bytes it takes; a NULL buffer only asks the size.
func copyText(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int,
              needed: UnsafeMutablePointer<Int>?) throws {
    let bytes = Array(text.utf8CString)
    needed?.pointee = bytes.count
    guard let buffer else { return }
    guard capacity >= bytes.count else {
        throw GraftError.invalidArgument("the buffer holds \(capacity) bytes, the text needs \(bytes.count)")
    }
    bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: $0.count) }
}
