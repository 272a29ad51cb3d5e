import CGraftABI
import GraftFoundation
import GraftModel

@_cdecl("graft_history_text")
public func graft_history_text(_ epochs: UnsafePointer<graft_epoch_figures>?, _ count: Int64, _ format: Int32,
                               _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                               _ needed: UnsafeMutablePointer<Int>?) -> graft_status {
    catchingErrors {
        guard count >= 0 else { throw GraftError.invalidArgument("count must not be negative, not \(count)") }
        var report = HistoryReport()
        if count > 0 {
            let epochs = try required(epochs, "epochs")
            for i in 0..<Int(count) {
                let e = epochs[i]
                let phase = try e.phase.map { try string($0, "epochs[\(i)].phase") } ?? ""
                report.append(HistoryReport.Epoch(phase: phase, loss: e.loss, accuracy: e.accuracy,
                                                  valLoss: e.val_loss, valAccuracy: e.val_accuracy))
            }
        }
        let text: String
        switch graft_history_format(rawValue: UInt32(bitPattern: format)) {
        case GRAFT_HISTORY_TABLE: text = report.table
        case GRAFT_HISTORY_CSV: text = report.csv
        case GRAFT_HISTORY_SVG: text = report.svg
        default: throw GraftError.invalidArgument("unknown history format \(format)")
        }
        try copyText(text, to: buffer, capacity: capacity, needed: needed)
    }
}
