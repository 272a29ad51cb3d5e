import Foundation
import GraftData
import GraftFoundation
import Glibc
import Testing

/// Files that would take a decoder's host down if their sizes were trusted:
/// special files, huge files, and small files declaring huge images. Each is
/// refused (or, where TensorFlow has a sane answer, given it) before the
/// memory or time it asks for is spent.

/// The GraftError `body` throws; records an issue when it throws none.
private func graftError<T>(_ what: String, _ body: () throws -> T) -> GraftError? {
    do {
        _ = try body()
        Issue.record("\(what): no error")
    } catch let error as GraftError {
        return error
    } catch {
        Issue.record("\(what): \(error)")
    }
    return nil
}

private func decode(_ bytes: [UInt8], pixelLimit: Int = ImageDecoder.defaultPixelLimit) throws -> DecodedImage {
    try bytes.withUnsafeBytes { try ImageDecoder.decode($0, name: "test", pixelLimit: pixelLimit) }
}

private func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "graft-hostile-\(getpid())-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Test("a FIFO, a device, a directory behind an image name: .io errors at once, nothing read")
func specialFilesAreRefused() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let fifo = folder + "/pipe.jpg"
    #expect(mkfifo(fifo, 0o600) == 0)
    let zero = folder + "/zero.jpg"
    try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
    let directory = folder + "/folder.png"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    // A FIFO without a writer would block an open without O_NONBLOCK for
    // ever; /dev/zero would be read until memory runs out.
    for (path, kind) in [(fifo, "a FIFO"), (zero, "a character device"), (directory, "a directory")] {
        let error = graftError(path) { try ImageDecoder.decodeFile(path) }
        #expect(error?.kind == .io)
        #expect(error?.message == "\(path): is \(kind), not a regular file")
    }
}

@Test("a file larger than any image within the pixel limit is refused before it is read")
func hugeFilesAreRefusedUnread() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    /// A sparse file of `size` bytes starting like a JPEG: nothing on disk.
    func sparseJPEG(_ name: String, size: Int) -> String {
        let path = folder + "/" + name
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        #expect(fd >= 0)
        let header: [UInt8] = [0xFF, 0xD8, 0xFF]
        _ = header.withUnsafeBytes { write(fd, $0.baseAddress, 3) }
        #expect(ftruncate(fd, off_t(size)) == 0)
        close(fd)
        return path
    }
    // 3 GB: read whole, it would take 3 GB of memory before its error.
    let huge = sparseJPEG("huge.jpg", size: 3_000_000_000)
    let error = graftError(huge) { try ImageDecoder.decodeFile(huge) }
    #expect(error?.kind == .format)
    #expect(error?.message.hasPrefix("\(huge): 3000000000 bytes is more than an image within the pixel limit") == true,
            "\(error?.message ?? "")")
    // The byte limit follows the pixel limit (8 bytes a pixel and 1 MiB): 2
    // MiB are read with the default limit (and fail as a JPEG), refused
    // unread with a limit of 100,000 pixels.
    let small = sparseJPEG("small.jpg", size: 2 << 20)
    let read = graftError(small) { try ImageDecoder.decodeFile(small) }
    #expect(read?.kind == .format && read?.message.contains("JPEG") == true, "\(read?.message ?? "")")
    let unread = graftError(small) { try ImageDecoder.decodeFile(small, pixelLimit: 100_000) }
    #expect(unread?.message == "\(small): 2097152 bytes is more than an image within the pixel limit of 100000 can take (1848576)",
            "\(unread?.message ?? "")")
}

@Test("the pixel limit: an image of that many pixels decodes, one more is refused, whatever the format")
func pixelLimitIsExact() throws {
    for file in ["jpeg_420.jpg", "png_rgb8.png", "bmp_24.bmp", "gif_basic.gif"] {
        let bytes = try DecodeFixtures.bytes(file)
        let image = try decode(bytes)
        let pixels = image.width * image.height
        #expect(try decode(bytes, pixelLimit: pixels).pixels == image.pixels, "\(file)")
        let error = graftError(file) { try decode(bytes, pixelLimit: pixels - 1) }
        #expect(error?.kind == .format)
        #expect(error?.message.hasSuffix("of \(image.width)x\(image.height) pixels is over the pixel limit of \(pixels - 1)") == true,
                "\(file): \(error?.message ?? "")")
    }
}

/// `bytes` with the big-endian 16-bit `value` at `offset`.
private func patched16BE(_ bytes: [UInt8], at offset: Int, _ value: Int) -> [UInt8] {
    var copy = bytes
    copy[offset] = UInt8(value >> 8)
    copy[offset + 1] = UInt8(value & 255)
    return copy
}

@Test("small files declaring huge images are refused before their pixels are allocated")
func hugeDeclaredSizesAreRefused() throws {
    // A JPEG whose frame header says 65535 x 65535 (4.3 billion pixels,
    // 2.6 GB per decoding thread for a progressive one): past TensorFlow's
    // own bound; 10000 x 10000 is within TF's, past the pixel limit.
    let jpeg = try DecodeFixtures.bytes("jpeg_420_progressive.jpg")
    guard let sof = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) }) else {
        Issue.record("no frame header in the fixture")
        return
    }
    let huge = patched16BE(patched16BE(jpeg, at: sof + 5, 65535), at: sof + 7, 65535)
    #expect(graftError("JPEG") { try decode(huge) }?.message == "test: JPEG too large (65535x65535, 3 components)")
    let large = patched16BE(patched16BE(jpeg, at: sof + 5, 10000), at: sof + 7, 10000)
    #expect(graftError("JPEG") { try decode(large) }?.message == "test: JPEG of 10000x10000 pixels is over the pixel limit of 89478485")

    // A BMP declaring 10000 x 10000.
    var bmp = try DecodeFixtures.bytes("bmp_24.bmp")
    for (offset, value) in [(18, 10000), (22, 10000)] {
        for k in 0..<4 { bmp[offset + k] = UInt8((value >> (8 * k)) & 255) }
    }
    #expect(graftError("BMP") { try decode(bmp) }?.message == "test: BMP of 10000x10000 pixels is over the pixel limit of 89478485")
}

/// gif_basic.gif (one 37 x 23 frame) with `frames` more frames before its
/// trailer.
private func gifWithFrames(_ frames: [[UInt8]]) throws -> [UInt8] {
    let basic = try DecodeFixtures.bytes("gif_basic.gif")
    #expect(basic.last == 0x3B)
    return Array(basic.dropLast()) + frames.flatMap { $0 } + [0x3B]
}

/// An image descriptor of width x height without a colour table and a
/// little LZW data (a clear code, then the end code: broken for any size).
private func frameDeclaring(width: Int, height: Int) -> [UInt8] {
    [0x2C, 0, 0, 0, 0, UInt8(width & 255), UInt8(width >> 8), UInt8(height & 255), UInt8(height >> 8), 0,
     2, 1, 0x2C, 0]
}

/// The whole first frame of gif_basic.gif (its descriptor and data), to repeat.
private func basicFrame() throws -> [UInt8] {
    let basic = try DecodeFixtures.bytes("gif_basic.gif")
    let tableBytes = 3 * (1 << (Int(basic[10] & 7) + 1))
    return Array(basic[(13 + tableBytes)..<(basic.count - 1)])
}

@Test("GIF: frames are checked against the pixel limit on their declared size, before their data is decoded")
func gifFramesAreBounded() throws {
    let first = try decode(try DecodeFixtures.bytes("gif_basic.gif"))
    // A second frame of 60000 x 60000 (past 2^31 pixels) is one giflib
    // cannot allocate: broken, so it does not count, and TensorFlow returns
    // frame 0 (checked with TF 2.21).
    let beyondGiflib = try decode(try gifWithFrames([frameDeclaring(width: 60000, height: 60000)]))
    #expect(beyondGiflib == first)
    // One of 20000 x 20000 is within giflib's reach, not within the limit:
    // refused at its descriptor (its data would take minutes to decode).
    let error = graftError("GIF") { try decode(try gifWithFrames([frameDeclaring(width: 20000, height: 20000)])) }
    #expect(error?.kind == .format)
    #expect(error?.message == "test: GIF of 20000x20000 pixels is over the pixel limit of 89478485", "\(error?.message ?? "")")
    // The frames' pixels count together: three frames of 37 x 23 need 2553.
    let frame = try basicFrame()
    let three = try gifWithFrames([frame, frame])
    #expect(try decode(three, pixelLimit: 3 * 851) == first)
    let tooMany = graftError("GIF") { try decode(three, pixelLimit: 3 * 851 - 1) }
    #expect(tooMany?.message == "test: GIF whose frames hold more than the pixel limit of 2552 pixels in all",
            "\(tooMany?.message ?? "")")
}
