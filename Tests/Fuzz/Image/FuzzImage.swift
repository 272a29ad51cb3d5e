import GraftData

/// One input for the image decoders: sniffed and decoded as a file's bytes
/// would be (JPEG, PNG, GIF, BMP), to each colour mode. A .format error is
/// the expected answer to most inputs; a crash or a sanitizer report is a
/// finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    // A low pixel limit keeps each input's work small; the limit's own
    // checks are part of what is fuzzed.
    for mode in ColorMode.allCases {
        _ = try? ImageDecoder.decode(UnsafeRawBufferPointer(start: data, count: size), name: "input", mode: mode,
                                     pixelLimit: 1 << 22)
    }
    return 0
}
