import CGraftFuzzDriver
import GraftModel

/// One input for the model loader: the bytes as a file saved by
/// `graft_model_save`, loaded as `graft.load_model` loads it (Graft's
/// attributes, the head they declare, then every weight). Errors are the
/// expected answer; a crash or a sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let path = graft_fuzz_file(data, size).map({ String(cString: $0) }) else { return 0 }
    _ = try? TransferModel.load(from: path, threads: 1)
    return 0
}
