import GraftKernels
#if canImport(Glibc)
import Glibc
import GraftFoundation
#endif

/// 8-bit pixels, row-major, interleaved (height × width × channels): gray,
/// RGB or RGBA.
public struct DecodedImage: Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]
}

/// The channels an image is decoded to: Keras's color_mode.
public enum ColorMode: String, CaseIterable, Sendable {
    case grayscale, rgb, rgba

    public var channels: Int {
        switch self {
        case .grayscale: 1
        case .rgb: 3
        case .rgba: 4
        }
    }
}

/// Image decoding with the pixels of TensorFlow's
/// `tf.io.decode_image(contents, channels=C, expand_animations=False)`, which
/// Keras's `image_dataset_from_directory` uses with C = 1, 3 or 4 for its
/// color_mode: JPEG (libjpeg-turbo, TF's settings), PNG (libpng, TF's
/// transformations), BMP and the first frame of a GIF (both written here,
/// after TF's rules). What each format does and where it refuses a file is
/// described in its decoder's file; TF refuses some colour modes for some
/// formats (RGBA JPEGs, gray GIFs and BMPs), and so does this, in its words.
///
/// Every decoder checks the file's bytes before it reads them: a corrupt,
/// truncated or hostile file gives a `GraftError` of kind `.format`, never a
/// trap. Nothing is shared between calls: decode on any number of threads.
public enum ImageDecoder {
    /// The most pixels an image may have unless the caller sets another
    /// limit: PIL's `Image.MAX_IMAGE_PIXELS`, the bound Python users know.
    /// An image declaring more is refused before anything is allocated for
    /// it, so that a small hostile file cannot take gigabytes (a GIF counts
    /// the pixels of all its frames, which TensorFlow decodes and holds).
    public static let defaultPixelLimit = 89_478_485

    /// Decodes an encoded image to `mode`'s channels, sniffing the format
    /// from its first bytes as TensorFlow does (not from the extension).
    /// `name` is used in error messages (the file path).
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String, mode: ColorMode = .rgb,
                              pixelLimit: Int = defaultPixelLimit) throws -> DecodedImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw GraftError.format("\(name): empty file")
        }
        let input = ImageBytes(base: base, count: bytes.count)
        let limit = PixelLimit(pixels: pixelLimit, name: name)
        switch ImageFormat.sniff(input) {
        case .jpeg:
            guard mode != .rgba else { throw GraftError.format("\(name): JPEG does not support 4 channels") }
            return try JPEGDecoder.decode(input, name: name, mode: mode, limit: limit)
        case .png: return try PNGDecoder.decode(input, name: name, mode: mode, limit: limit)
        case .gif:
            guard mode == .rgb else {
                throw GraftError.format("\(name): channels must be 0 or 3 for GIF, got \(mode.channels)")
            }
            return try GIFDecoder.decode(input, name: name, limit: limit)
        case .bmp:
            guard mode != .grayscale else {
                throw GraftError.format("\(name): `channels` must be 0, 3 or 4 for BMP, but got 1")
            }
            return try BMPDecoder.decode(input, name: name, mode: mode, limit: limit)
        case .webp:
            throw GraftError.format("\(name): WebP image: not supported (only JPEG, PNG, GIF and BMP are)")
        case .unknown:
            throw GraftError.format("\(name): unknown image format (not JPEG, PNG, GIF or BMP)")
        }
    }

    /// Reads and decodes a file. A missing or unreadable file, or one that is
    /// not a regular file (a FIFO, a device), gives a `GraftError` of kind
    /// `.io`; an empty, corrupt, truncated, unknown or too large one gives
    /// `.format`, each message naming the path and the reason.
    public static func decodeFile(_ path: String, mode: ColorMode = .rgb,
                                  pixelLimit: Int = defaultPixelLimit) throws -> DecodedImage {
        try checkPixelLimit(pixelLimit)
        let maxBytes = fileByteLimit(pixelLimit: pixelLimit)
        let bytes = try readRegularFile(path, maxBytes: maxBytes) { size in
            "\(size) bytes is more than an image within the pixel limit of \(pixelLimit) can take (\(maxBytes))"
        }
        return try bytes.withUnsafeBytes { try decode($0, name: path, mode: mode, pixelLimit: pixelLimit) }
    }

    /// Refuses a pixel limit below 1.
    public static func checkPixelLimit(_ pixelLimit: Int) throws {
        guard pixelLimit >= 1 else {
            throw GraftError.invalidArgument("max_image_pixels must be at least 1, not \(pixelLimit)")
        }
    }

    /// The largest file an image of `pixelLimit` pixels can need: 8 bytes a
    /// pixel (16-bit RGBA stored uncompressed, the most any of the four
    /// formats takes) and 1 MiB for headers and metadata.
    static func fileByteLimit(pixelLimit: Int) -> Int {
        let (pixelBytes, overflow) = pixelLimit.multipliedReportingOverflow(by: 8)
        let (total, overflowAgain) = pixelBytes.addingReportingOverflow(1 << 20)
        return overflow || overflowAgain ? Int.max : total
    }
}

/// The pixel limit of one decode, checked against the size a file declares
/// before anything is allocated for it.
struct PixelLimit {
    let pixels: Int
    let name: String

    /// Refuses an image of width × height (of `format`) over the limit.
    func check(width: Int, height: Int, _ format: String) throws {
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count <= pixels else {
            throw GraftError.format("\(name): \(format) of \(width)x\(height) pixels is over the pixel limit of \(pixels)")
        }
    }
}

/// The formats TensorFlow's decode_image recognises, by their first bytes.
enum ImageFormat: Equatable {
    case jpeg, png, gif, bmp, webp, unknown

    /// TensorFlow's order and signatures: JPEG `FF D8 FF`, PNG's 8-byte
    /// signature, `GIF8`, `BM`, then `RIFF....WEBP`.
    static func sniff(_ input: ImageBytes) -> ImageFormat {
        func starts(with signature: [UInt8], at offset: Int = 0) -> Bool {
            guard input.count >= offset + signature.count else { return false }
            for (i, byte) in signature.enumerated() where input.byte(offset + i) != byte { return false }
            return true
        }
        if starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(with: [0x47, 0x49, 0x46, 0x38]) { return .gif }
        if starts(with: [0x42, 0x4D]) { return .bmp }
        if input.count > 12, starts(with: [0x52, 0x49, 0x46, 0x46]), starts(with: [0x57, 0x45, 0x42, 0x50], at: 8) {
            return .webp
        }
        return .unknown
    }
}

/// A read-only view of an encoded file. Reads past the end return nil (or
/// are refused by the caller's checks): file data is never trusted.
struct ImageBytes {
    let base: UnsafeRawPointer
    let count: Int

    var bytes: UnsafePointer<UInt8> { base.assumingMemoryBound(to: UInt8.self) }

    /// The byte at `offset`, or nil past the end.
    @inline(__always) func byte(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Little-endian 16-bit value at `offset`, or nil past the end.
    @inline(__always) func uint16LE(_ offset: Int) -> Int? {
        guard offset >= 0, offset <= count - 2 else { return nil }
        return Int(base.load(fromByteOffset: offset, as: UInt8.self))
            | Int(base.load(fromByteOffset: offset + 1, as: UInt8.self)) << 8
    }

    /// Big-endian 16-bit value at `offset`, or nil past the end.
    @inline(__always) func uint16BE(_ offset: Int) -> Int? {
        guard offset >= 0, offset <= count - 2 else { return nil }
        return Int(base.load(fromByteOffset: offset, as: UInt8.self)) << 8
            | Int(base.load(fromByteOffset: offset + 1, as: UInt8.self))
    }

    /// Little-endian signed 32-bit value at `offset`, or nil past the end.
    @inline(__always) func int32LE(_ offset: Int) -> Int32? {
        guard offset >= 0, offset <= count - 4 else { return nil }
        return Int32(bitPattern: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
    }
}

extension DecodedImage {
    /// A width × height RGB image whose pixels `fill` writes (all bytes zero first).
    static func filled(width: Int, height: Int,
                       _ fill: (UnsafeMutablePointer<UInt8>) throws -> Void) rethrows -> DecodedImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        try pixels.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { try fill(base) }
        }
        return DecodedImage(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// A width × height image of `channels` whose pixels `fill` writes in
    /// full (not zeroed first).
    static func uninitialized(width: Int, height: Int, channels: Int = 3,
                              _ fill: (UnsafeMutablePointer<UInt8>) throws -> Void) rethrows -> DecodedImage {
        let count = width * height * channels
        let pixels = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            if let base = buffer.baseAddress { try fill(base) }
            initialized = count
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }
}
