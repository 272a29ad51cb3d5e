import CGraftFuzzDriver
import Glibc
import GraftModel

/// One input for the model loader: the bytes as a file saved by
/// `graft_model_save`, loaded as `graft.load_model` loads it (Graft's
/// attributes, the head they declare, then every weight), or, when they
/// start as a zip archive does, as a Keras 3 `.keras` file (its zip
/// directory, config.json, then the weights file inside). Errors are the
/// expected answer; a crash or a sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let written = graft_fuzz_file(data, size).map({ String(cString: $0) }) else { return 0 }
    var path = written
    if size >= 2, data![0] == UInt8(ascii: "P"), data![1] == UInt8(ascii: "K") {
        path += TransferModel.kerasArchiveSuffix
        guard rename(written, path) == 0 else { return 0 }
    }
    _ = try? TransferModel.load(from: path, threads: 1)
    return 0
}
