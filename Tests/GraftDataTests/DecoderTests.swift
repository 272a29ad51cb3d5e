import Foundation
import GraftData
import GraftFoundation
import GraftKernels
import Testing

/// The decoder fixtures: images of every kind with the pixels TensorFlow's
/// `decode_image(channels=3, expand_animations=False)` gives for them, written
/// by tools/make_decode_fixtures.py into .fixtures/decode/ (or
/// $GRAFT_FIXTURES/decode). manifest.txt has `<file> <height> <width>` per
/// image TF decodes (pixels in `<file>.rgb`) and `<file> error` per image TF
/// refuses.
///
/// Every comparison is exact: the decoders use the libraries and settings TF
/// uses (libjpeg-turbo with the fast integer DCT and fancy upsampling, libpng
/// with TF's transformations) or follow TF's own code (BMP, GIF).
enum DecodeFixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["GRAFT_FIXTURES"], !dir.isEmpty { return dir + "/decode" }
        return repository.appendingPathComponent(".fixtures/decode").path
    }()

    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "missing decoder fixture \(path): run `make fixtures` (tools/make_decode_fixtures.py writes them with TensorFlow)"
        }
    }

    struct Entry {
        let file: String
        let path: String
        /// TF's (height, width), nil when TF refuses the file.
        let size: (height: Int, width: Int)?
    }

    static func manifest() throws -> [Entry] {
        let path = directory + "/manifest.txt"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Missing(path: path) }
        let entries = try text.split(separator: "\n").map { line -> Entry in
            let fields = line.split(separator: " ").map(String.init)
            let file = fields[0], filePath = directory + "/" + file
            guard FileManager.default.fileExists(atPath: filePath) else { throw Missing(path: filePath) }
            if fields.count == 2, fields[1] == "error" { return Entry(file: file, path: filePath, size: nil) }
            guard fields.count == 3, let h = Int(fields[1]), let w = Int(fields[2]) else {
                throw Missing(path: "\(path): bad line '\(line)'")
            }
            return Entry(file: file, path: filePath, size: (h, w))
        }
        // A manifest from an older generator would silently test less.
        guard entries.count >= 140 else { throw Missing(path: "\(path) (only \(entries.count) entries)") }
        return entries
    }

    static func pixels(_ entry: Entry) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: entry.path + ".rgb") else {
            throw Missing(path: entry.path + ".rgb")
        }
        return [UInt8](data)
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + file) else {
            throw Missing(path: directory + "/" + file)
        }
        return [UInt8](data)
    }
}

/// "" when `image` is TF's decode of `entry`, else what differs.
private func compare(_ image: DecodedImage, _ entry: (file: String, size: (height: Int, width: Int)), _ expected: [UInt8]) -> String {
    guard image.height == entry.size.height, image.width == entry.size.width else {
        return "\(entry.file): \(image.height)x\(image.width), TensorFlow gives \(entry.size.height)x\(entry.size.width)"
    }
    guard image.pixels.count == expected.count else {
        return "\(entry.file): \(image.pixels.count) bytes of pixels, TensorFlow's file has \(expected.count)"
    }
    var differing = 0, first = -1, worst = 0
    for i in 0..<expected.count where image.pixels[i] != expected[i] {
        if first < 0 { first = i }
        differing += 1
        worst = max(worst, abs(Int(image.pixels[i]) - Int(expected[i])))
    }
    guard differing > 0 else { return "" }
    let pixel = first / 3
    return "\(entry.file): \(differing) bytes differ (max by \(worst)); first at row \(pixel / image.width), "
        + "column \(pixel % image.width), channel \(first % 3): \(image.pixels[first]) vs TensorFlow's \(expected[first])"
}

/// The decoder's verdict on a file: "" when it matches TensorFlow's.
private func verdict(_ entry: DecodeFixtures.Entry, _ decode: () throws -> DecodedImage) throws -> String {
    do {
        let image = try decode()
        guard let size = entry.size else {
            return "\(entry.file): decoded (\(image.height)x\(image.width)), TensorFlow refuses it"
        }
        return compare(image, (entry.file, size), try DecodeFixtures.pixels(entry))
    } catch let error as GraftError {
        guard entry.size == nil else { return "\(entry.file): refused (\(error.message)), TensorFlow decodes it" }
        guard error.kind == .format else { return "\(entry.file): error of kind \(error.kind): \(error.message)" }
        guard error.message.hasPrefix(entry.path + ": "), error.message.count > entry.path.count + 4 else {
            return "\(entry.file): message does not name the file and a reason: \(error.message)"
        }
        return ""
    }
}

@Test("every fixture: TensorFlow's exact pixels, or refused as TensorFlow refuses it")
func decodesAsTensorFlow() throws {
    let entries = try DecodeFixtures.manifest()
    var problems: [String] = []
    for entry in entries {
        let problem = try verdict(entry) { try ImageDecoder.decodeFile(entry.path) }
        if !problem.isEmpty { problems.append(problem) }
    }
    #expect(problems.isEmpty, "\(problems.count) of \(entries.count) fixtures:\n\(problems.joined(separator: "\n"))")
    // Each format is covered, both ways.
    for prefix in ["jpeg_", "png_", "bmp_", "gif_"] {
        #expect(entries.contains { $0.file.hasPrefix(prefix) && $0.size != nil })
        #expect(entries.contains { $0.file.hasPrefix(prefix) && $0.size == nil })
    }
}

@Test("decoding bytes in memory gives what decoding the file gives, the name in errors")
func decodesFromMemory() throws {
    for entry in try DecodeFixtures.manifest() {
        let bytes = try DecodeFixtures.bytes(entry.file)
        let problem = try verdict(entry) { try bytes.withUnsafeBytes { try ImageDecoder.decode($0, name: entry.path) } }
        #expect(problem.isEmpty, "\(problem)")
    }
}

@Test("decoding on many threads at once gives the same pixels")
func decodesConcurrently() throws {
    let entries = try DecodeFixtures.manifest()
    let rounds = 4
    var problems = [String](repeating: "", count: entries.count * rounds)
    problems.withUnsafeMutableBufferPointer { results in
        DispatchQueue.concurrentPerform(iterations: results.count) { i in
            let entry = entries[i % entries.count]
            results[i] = (try? verdict(entry) { try ImageDecoder.decodeFile(entry.path) }) ?? "\(entry.file): fixture unreadable"
        }
    }
    let failed = problems.filter { !$0.isEmpty }
    #expect(failed.isEmpty, "\(failed.joined(separator: "\n"))")
}

@Test("missing, unreadable and empty files: .io or .format errors naming the path")
func fileErrors() throws {
    let missing = DecodeFixtures.directory + "/no such image.jpg"
    do {
        _ = try ImageDecoder.decodeFile(missing)
        Issue.record("a missing file decoded")
    } catch let error as GraftError {
        #expect(error.kind == .io)
        #expect(error.message.hasPrefix(missing + ": "), "\(error.message)")
    }
    do {
        _ = try ImageDecoder.decodeFile(DecodeFixtures.directory)
        Issue.record("a directory decoded")
    } catch let error as GraftError {
        #expect(error.kind == .io, "\(error.message)")
    }
    for name in ["empty.png", "text.jpg", "unknown.png"] {
        let path = DecodeFixtures.directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { throw DecodeFixtures.Missing(path: path) }
        do {
            _ = try ImageDecoder.decodeFile(path)
            Issue.record("\(name) decoded")
        } catch let error as GraftError {
            #expect(error.kind == .format)
            #expect(error.message.hasPrefix(path + ": "), "\(error.message)")
        }
    }
    do {
        _ = try [UInt8]().withUnsafeBytes { try ImageDecoder.decode($0, name: "nothing") }
        Issue.record("no bytes decoded")
    } catch let error as GraftError {
        #expect(error.kind == .format && error.message == "nothing: empty file", "\(error.message)")
    }
    do {
        _ = try ImageDecoder.decodeFile(DecodeFixtures.directory + "/text.jpg")
    } catch let error as GraftError {
        #expect(error.message.hasSuffix("unknown image format (not JPEG, PNG, GIF or BMP)"), "\(error.message)")
    }
}

/// Decodes `bytes`: nil for a .format error; any other error or a wrong pixel
/// count is recorded.
private func tryDecode(_ bytes: [UInt8], _ name: String) -> DecodedImage? {
    do {
        let image = try bytes.withUnsafeBytes { try ImageDecoder.decode($0, name: name) }
        if image.pixels.count != image.width * image.height * 3 || image.width <= 0 || image.height <= 0 {
            Issue.record("\(name): \(image.width)x\(image.height) with \(image.pixels.count) bytes")
        }
        return image
    } catch let error as GraftError {
        if error.kind != .format { Issue.record("\(name): \(error.kind): \(error.message)") }
        return nil
    } catch {
        Issue.record("\(name): \(error)")
        return nil
    }
}

@Test("every truncation of a valid file is refused (GIF: or gives the whole first frame), never a crash")
func truncations() throws {
    let files = ["jpeg_420.jpg", "jpeg_420_progressive.jpg", "jpeg_cmyk_adobe.jpg", "png_rgb8_interlaced.png",
                 "png_palette4_trns_interlaced.png", "bmp_24.bmp", "bmp_8_palette.bmp", "gif_interlaced.gif",
                 "gif_transparent_offset.gif", "gif_256_colors_deferred_clear.gif"]
    for file in files {
        let bytes = try DecodeFixtures.bytes(file)
        let whole = tryDecode(bytes, file)
        #expect(whole != nil, "\(file) does not decode")
        for length in 0..<bytes.count {
            let name = "\(file)[..<\(length)]"
            guard let image = tryDecode(Array(bytes[..<length]), name) else { continue }
            // A GIF whose first frame is complete decodes without the rest
            // (a later frame may be cut, which can make the output smaller).
            if file.hasSuffix(".gif"), let whole, image.pixels.count == whole.pixels.count {
                #expect(image == whole, "\(name)")
            } else if !file.hasSuffix(".gif") {
                Issue.record("\(name) decoded (\(image.width)x\(image.height))")
            }
        }
    }
}

@Test("random corruption of every valid fixture: a result or a .format error, never a crash")
func corruptions() throws {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(truncatingIfNeeded: state >> 33)
    }
    for entry in try DecodeFixtures.manifest() where entry.size != nil {
        let original = try DecodeFixtures.bytes(entry.file)
        for round in 0..<40 {
            var bytes = original
            for _ in 0...(round % 4) {
                let at = next() % bytes.count
                switch round % 3 {
                case 0: bytes[at] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8))
                case 1: bytes[at] = UInt8(truncatingIfNeeded: next())
                default: bytes[at] = [0x00, 0xFF, 0x80, 0x7F][next() % 4]
                }
            }
            _ = tryDecode(bytes, "\(entry.file) corrupted #\(round)")
        }
    }
}
