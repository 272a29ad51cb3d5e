import CTurboJPEG
import GraftKernels
#if canImport(Glibc)
import Glibc
import GraftFoundation
#endif

/// JPEG through TurboJPEG, with the pixels of TensorFlow's default decode
/// (decode_image and decode_jpeg without arguments, libjpeg-turbo 2.1.4 in TF
/// 2.21), checked equal byte for byte:
///
/// - DCT: integer *fast* (JDCT_IFAST; `TJFLAG_FASTDCT`). TF chose it for speed;
///   the accurate DCT differs by up to 4 levels.
/// - Chroma upsampling: "fancy" (libjpeg's default; no `TJFLAG_FASTUPSAMPLE`).
/// - Grayscale JPEGs are replicated to RGB by libjpeg; CMYK and YCCK JPEGs are
///   decoded to CMYK and converted as TF does: with an Adobe APP14 marker
///   (inverted CMYK, as Adobe writes it) `r = k·c / 255`, without one
///   `r = (255 − k)(255 − c) / 255` (integer division; likewise g, b).
/// - Decoded to gray (color_mode "grayscale"), libjpeg gives the luma of
///   colour JPEGs (their Y component, unconverted), as TF asks it to; CMYK
///   and YCCK JPEGs cannot be, there as here.
/// - Truncated data is an error: TF's source manager fails when libjpeg needs
///   bytes past the end (where TurboJPEG's would invent an end-of-image marker
///   and warn). Here the file's marker structure is walked first: no
///   end-of-image marker reachable, no decode.
/// - Other libjpeg *warnings* (corrupt entropy data, extraneous bytes between
///   markers, a scan that ends early, a bad progression) are not errors: TF
///   decodes such files and so does this, to the same pixels. libjpeg's fatal
///   errors are errors.
/// - `tjDecompressHeader3` is not used: TurboJPEG 2.1 refuses there any sampling
///   factors outside its named subsamplings (e.g. 3×1 luma), which libjpeg and
///   TF decode. The frame header is read here instead.
/// - TF refuses images of 2^29 or more samples (height × width × components).
///
/// One TurboJPEG handle per call, never shared.
enum JPEGDecoder {
    /// What the marker walk finds.
    struct Structure {
        var width = 0
        var height = 0
        var components = 0
        var sawFrame = false
        var sawAdobeMarker = false
        var reachesEnd = false
    }

    /// `mode` is grayscale or RGB (ImageDecoder refuses RGBA, as TF does).
    static func decode(_ input: ImageBytes, name: String, mode: ColorMode, limit: PixelLimit) throws -> DecodedImage {
        let structure = walk(input)
        guard structure.reachesEnd else {
            throw GraftError.format(structure.sawFrame
                ? "\(name): truncated JPEG (the data ends before the end-of-image marker)"
                : "\(name): truncated or corrupt JPEG (no frame header before the data ends)")
        }
        guard structure.sawFrame else { throw GraftError.format("\(name): corrupt JPEG (no frame header)") }
        let width = structure.width, height = structure.height, components = structure.components
        guard width > 0, height > 0, components > 0 else {
            throw GraftError.format("\(name): corrupt JPEG (frame header gives \(width)x\(height), \(components) components)")
        }
        guard width * height * components < 1 << 29 else {
            throw GraftError.format("\(name): JPEG too large (\(width)x\(height), \(components) components)")
        }
        try limit.check(width: width, height: height, "JPEG")

        guard let handle = tjInitDecompress() else {
            throw GraftError(.outOfMemory, "\(name): cannot create a JPEG decoder")
        }
        defer { tjDestroy(handle) }

        if mode == .grayscale {
            guard components != 4 else {
                throw GraftError.format("\(name): invalid JPEG: a CMYK or YCCK JPEG cannot be decoded to grayscale")
            }
            return try DecodedImage.uninitialized(width: width, height: height, channels: 1) { gray in
                try run(handle, input, into: gray, width: width, height: height, format: TJPF_GRAY, name: name)
            }
        }
        if components == 4 {
            // CMYK or YCCK: libjpeg gives CMYK, converted as TF does.
            var cmyk = [UInt8](repeating: 0, count: width * height * 4)
            try cmyk.withUnsafeMutableBufferPointer { buffer in
                try run(handle, input, into: buffer.baseAddress, width: width, height: height,
                        format: TJPF_CMYK, name: name)
            }
            let inverted = structure.sawAdobeMarker
            return cmyk.withUnsafeBufferPointer { source in
                DecodedImage.uninitialized(width: width, height: height) { rgb in
                    guard let s = source.baseAddress else { return }
                    for i in 0..<(width * height) {
                        let c = Int(s[4 * i]), m = Int(s[4 * i + 1]), y = Int(s[4 * i + 2]), k = Int(s[4 * i + 3])
                        if inverted {
                            rgb[3 * i] = UInt8(truncatingIfNeeded: k * c / 255)
                            rgb[3 * i + 1] = UInt8(truncatingIfNeeded: k * m / 255)
                            rgb[3 * i + 2] = UInt8(truncatingIfNeeded: k * y / 255)
                        } else {
                            rgb[3 * i] = UInt8(truncatingIfNeeded: (255 - k) * (255 - c) / 255)
                            rgb[3 * i + 1] = UInt8(truncatingIfNeeded: (255 - k) * (255 - m) / 255)
                            rgb[3 * i + 2] = UInt8(truncatingIfNeeded: (255 - k) * (255 - y) / 255)
                        }
                    }
                }
            }
        }
        return try DecodedImage.uninitialized(width: width, height: height) { rgb in
            try run(handle, input, into: rgb, width: width, height: height, format: TJPF_RGB, name: name)
        }
    }

    /// One tjDecompress2 call; fatal errors and the end-of-file warning throw.
    private static func run(_ handle: tjhandle, _ input: ImageBytes, into output: UnsafeMutablePointer<UInt8>?,
                            width: Int, height: Int, format: TJPF, name: String) throws {
        let status = tjDecompress2(handle, input.bytes, UInt(input.count), output,
                                   Int32(width), 0, Int32(height), Int32(format.rawValue), TJFLAG_FASTDCT)
        guard status != 0 else { return }
        let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        if message.hasPrefix("Premature end of JPEG file") {
            throw GraftError.format("\(name): truncated JPEG (\(message))")
        }
        // tjGetErrorCode cannot tell: it says "warning" after a fatal error
        // too if a warning came first. The message can: TurboJPEG keeps the
        // first warning's text, unless a fatal error replaces it.
        if isWarning(message) { return }  // corrupt but complete data: TF keeps what libjpeg made of it
        throw GraftError.format("\(name): invalid JPEG: \(message)")
    }

    /// libjpeg's warning messages (jerror.h's JWRN_* texts, but for
    /// "Premature end of JPEG file"); every other message is an error's.
    static func isWarning(_ message: String) -> Bool {
        let warnings = ["Corrupt JPEG data: ", "Unknown Adobe color transform code ",
                        "Inconsistent progression sequence for component ", "Warning: unknown JFIF revision number ",
                        "Invalid SOS parameters for sequential JPEG", "Application transferred too many scanlines"]
        return warnings.contains { message.hasPrefix($0) }
    }

    /// Walks the markers as libjpeg reads them: segments skipped by their
    /// length, entropy-coded data up to the next marker, stray bytes between
    /// markers skipped. Notes the first frame header (SOFn), an Adobe APP14
    /// marker before the first scan, and whether an end-of-image marker (EOI)
    /// is reached before the data ends: if not, libjpeg would ask TF's source
    /// manager for more bytes, and TF fails.
    static func walk(_ input: ImageBytes) -> Structure {
        var s = Structure()
        let n = input.count
        let bytes = input.bytes
        var i = 2  // after SOI
        var inHeader = true
        while true {
            // Skip to a 0xFF, then over fill bytes; FF 00 outside a scan is
            // discarded too (libjpeg's next_marker).
            guard let ff = nextFF(bytes, from: i, count: n) else { return s }
            i = ff
            while i < n, bytes[i] == 0xFF { i += 1 }
            guard i < n else { return s }
            let marker = bytes[i]
            i += 1
            switch marker {
            case 0x00, 0x01, 0xD0...0xD8:
                continue  // stuffed zero, TEM, RSTn, SOI: no parameters
            case 0xD9:
                s.reachesEnd = true
                return s
            default:
                guard let length = input.uint16BE(i) else { return s }
                let start = i + 2
                if isFrameHeader(marker), !s.sawFrame {
                    guard start + 6 <= n, let h = input.uint16BE(start + 1), let w = input.uint16BE(start + 3) else {
                        return s
                    }
                    s.sawFrame = true
                    s.height = h
                    s.width = w
                    s.components = Int(bytes[start + 5])
                }
                if marker == 0xEE, inHeader, length - 2 >= 12, start + 5 <= n,
                   bytes[start] == 0x41, bytes[start + 1] == 0x64, bytes[start + 2] == 0x6F,
                   bytes[start + 3] == 0x62, bytes[start + 4] == 0x65 {  // "Adobe"
                    s.sawAdobeMarker = true
                }
                // libjpeg skips length - 2 bytes after the length (none if < 2).
                i += max(length, 2)
                guard i <= n else { return s }
                if marker == 0xDA {
                    inHeader = false
                    // Entropy-coded data: FF 00 (stuffing), FF FF (fill) and
                    // RSTn belong to the scan; any other marker ends it.
                    scan: while true {
                        guard let ff = nextFF(bytes, from: i, count: n) else { return s }
                        var j = ff + 1
                        while j < n, bytes[j] == 0xFF { j += 1 }
                        guard j < n else { return s }
                        let next = bytes[j]
                        if next == 0x00 || (0xD0...0xD7).contains(next) {
                            i = j + 1
                            continue scan
                        }
                        i = ff
                        break scan
                    }
                }
            }
        }
    }

    /// SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    private static func isFrameHeader(_ marker: UInt8) -> Bool {
        (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
    }

    /// Offset of the next 0xFF at or after `from`, or nil.
    @inline(__always)
    private static func nextFF(_ bytes: UnsafePointer<UInt8>, from: Int, count: Int) -> Int? {
        guard from < count, let found = memchr(bytes + from, 0xFF, count - from) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(bytes)
    }
}
