import CPNGShim
import GraftFoundation
import GraftKernels

/// PNG through libpng's classic API (in the C target CPNGShim, which keeps
/// libpng's longjmp out of Swift), set up as TensorFlow's decode_png with
/// channels=1, 3 or 4 and uint8 (libpng 1.6.43 in TF 2.21), checked equal
/// byte for byte:
///
/// - For gray and RGB, alpha (RGBA, gray+alpha) and tRNS transparency are
///   dropped, never composited onto a background; a palette+tRNS image gives
///   the palette's colours. For RGBA, tRNS becomes alpha, and an image
///   without either gets the filler TF asks for: 2^bit depth − 1, as libpng
///   stores it in 8 bits.
/// - Colour to gray is libpng's rgb_to_gray with TF's weights (0.299 red,
///   0.587 green, the rest blue).
/// - 16-bit samples become their high byte (png_set_strip_16, no rounding).
/// - Gray of 1, 2 or 4 bits is scaled to 0…255, then replicated to RGB.
/// - Palette indices past the PLTE entries give black (libpng's behaviour).
/// - No gamma correction: gAMA, sRGB, iCCP and cHRM are ignored.
/// - Interlaced (Adam7) images are decoded to the full image.
/// - Errors: a truncated file (also one missing IEND: TF reads to IEND), bad
///   CRC in a critical chunk, zlib errors (bad Adler-32 included), too little
///   image data, an unknown critical chunk, a palette image without PLTE.
///   Warnings (a bad CRC in an ancillary chunk, extra image data, data after
///   IEND) are not errors, as in TF.
/// - TF refuses width or height of 2^27 or more and 2^29 or more pixels.
///
/// libpng's simplified API (png_image_*) is not used: it composites alpha and
/// converts 16-bit data as linear light, which TF does not do.
enum PNGDecoder {
    static func decode(_ input: ImageBytes, name: String, mode: ColorMode, limit: PixelLimit) throws -> DecodedImage {
        var message = [CChar](repeating: 0, count: 256)
        var width: UInt32 = 0, height: UInt32 = 0
        let decoder = message.withUnsafeMutableBufferPointer { text in
            graft_png_begin(input.bytes, input.count, Int32(mode.channels), &width, &height, text.baseAddress,
                            text.count)
        }
        guard let decoder else {
            throw GraftError.format("\(name): invalid PNG: \(describe(message))")
        }
        let w = Int(width), h = Int(height)
        guard w > 0, h > 0, w < 1 << 27, h < 1 << 27, w * h < 1 << 29 else {
            graft_png_discard(decoder)
            throw GraftError.format("\(name): PNG too large (\(w)x\(h))")
        }
        do { try limit.check(width: w, height: h, "PNG") } catch {
            graft_png_discard(decoder)
            throw error
        }
        return try DecodedImage.uninitialized(width: w, height: h, channels: mode.channels) { pixels in
            let status = message.withUnsafeMutableBufferPointer { text in
                graft_png_finish(decoder, pixels, text.baseAddress, text.count)
            }
            guard status == 0 else {
                throw GraftError.format("\(name): invalid PNG data: \(describe(message))")
            }
        }
    }

    private static func describe(_ message: [CChar]) -> String {
        let text = message.withUnsafeBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress else { return "" }
            return String(cString: base)
        }
        return text.isEmpty ? "libpng error" : text
    }
}
