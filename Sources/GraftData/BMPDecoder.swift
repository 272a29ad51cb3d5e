import GraftFoundation
import GraftKernels

/// BMP as TensorFlow's decode_bmp reads it (TF 2.21, checked against it), which
/// is far from a full BMP reader:
///
/// - Read from the file header: the pixel-data offset (bytes 10–13), width
///   (18–21), height (22–25, negative = rows top-down) and bits per pixel
///   (28–29). Everything else is ignored: the DIB header's size and kind, the
///   compression field (RLE and bit-field files are read as raw rows), the
///   palette, the colour masks.
/// - Channels = bits per pixel / 8 (integer division) must be 1, 3 or 4:
///   8-bit files are read as *gray* (the palette index is the gray level, the
///   palette is not applied), 24-bit as BGR, 32-bit as BGRA (the 4th byte is
///   dropped for RGB); 1-, 4- and 16-bit files are refused. Decoded to RGBA,
///   the alpha of 8- and 24-bit files is 255.
/// - Rows are padded to 4 bytes, and the file must end exactly where the last
///   row ends: size = offset + row size × |height|, no byte more or less.
/// - Width must be positive, height nonzero, the offset nonnegative, width ×
///   |height| below 2^31 / 8; the file at least 32 bytes long.
enum BMPDecoder {
    /// `mode` is RGB or RGBA (ImageDecoder refuses grayscale, as TF does).
    static func decode(_ input: ImageBytes, name: String, mode: ColorMode, limit: PixelLimit) throws -> DecodedImage {
        guard input.count >= 32, let offset32 = input.int32LE(10), let width32 = input.int32LE(18),
              let height32 = input.int32LE(22), let bppLow = input.byte(28), let bppHigh = input.byte(29) else {
            throw GraftError.format("\(name): truncated BMP (\(input.count) bytes; the header needs 32)")
        }
        let bitsPerPixel = Int(Int16(bitPattern: UInt16(bppLow) | UInt16(bppHigh) << 8))
        let channels = bitsPerPixel / 8
        guard channels == 1 || channels == 3 || channels == 4 else {
            throw GraftError.format(
                "\(name): unsupported BMP with \(bitsPerPixel) bits per pixel (only 8-bit, 24-bit and 32-bit are read)")
        }
        let width = Int(width32), height = Int(height32), offset = Int(offset32)
        guard width > 0 else { throw GraftError.format("\(name): invalid BMP width \(width)") }
        guard height != 0 else { throw GraftError.format("\(name): invalid BMP height 0") }
        guard offset >= 0 else { throw GraftError.format("\(name): invalid BMP pixel-data offset \(offset)") }
        let rows = abs(height)
        guard width * rows < Int(Int32.max / 8) else {
            throw GraftError.format("\(name): BMP too large (\(width)x\(rows))")
        }
        try limit.check(width: width, height: rows, "BMP")
        let rowSize = (channels * width + 3) / 4 * 4
        let expected = offset + rowSize * rows
        guard input.count == expected else {
            throw GraftError.format(input.count < expected
                ? "\(name): truncated BMP (\(input.count) bytes; pixel data at \(offset) needs \(expected))"
                : "\(name): BMP has \(input.count - expected) bytes after its pixel data (\(expected) expected in all)")
        }

        let topDown = height < 0
        let source = input.bytes
        let outChannels = mode.channels
        return DecodedImage.uninitialized(width: width, height: rows, channels: outChannels) { pixels in
            for y in 0..<rows {
                let row = source + offset + (topDown ? y : rows - 1 - y) * rowSize
                let out = pixels + y * width * outChannels
                for x in 0..<width {
                    let p = row + x * channels, o = out + x * outChannels
                    if channels == 1 {
                        (o[0], o[1], o[2]) = (p[0], p[0], p[0])
                    } else {
                        (o[0], o[1], o[2]) = (p[2], p[1], p[0])
                    }
                    if outChannels == 4 { o[3] = channels == 4 ? p[3] : 255 }
                }
            }
        }
    }
}
