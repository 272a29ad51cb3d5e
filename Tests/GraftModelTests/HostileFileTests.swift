import Foundation
import GraftFoundation
import GraftIO
import GraftModel
import Testing

// Weight and model files whose declared sizes lie: each is refused with a
// .format error before anything is allocated from the lie, and the process
// and the file's other contents stay usable. The lies are one-field patches
// of files written here: every 8-byte little-endian copy of a distinctive
// count (a dataspace stores it as its size and its maximum size) replaced.

private func temporaryFile(_ name: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("graft-hostile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.appendingPathComponent(name).path
}

/// Replaces the first `times` (by default every) 8-byte little-endian copies
/// of `value` in the file with `replacement`; returns how many it replaced.
@discardableResult
private func patch(_ path: String, _ value: Int64, with replacement: Int64, times: Int = .max) throws -> Int {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let find = withUnsafeBytes(of: value.littleEndian, Array.init)
    let put = withUnsafeBytes(of: replacement.littleEndian, Array.init)
    var replaced = 0
    for i in 0...(bytes.count - 8) where replaced < times && Array(bytes[i..<(i + 8)]) == find {
        bytes.replaceSubrange(i..<(i + 8), with: put)
        replaced += 1
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return replaced
}

private func expectFormatError(_ what: String, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("\(what): no error")
    } catch let error as GraftError {
        #expect(error.kind == .format, "\(what): \(error)")
    } catch {
        Issue.record("\(what): \(error)")
    }
}

@Test("attributes whose dataspace declares 2^62 values over a few bytes are refused; a sound file still reads")
func corruptAttributeCounts() throws {
    let path = try temporaryFile("attributes.h5")
    defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
    let (integers, strings): (Int64, Int64) = (0x0A2A, 0x0A2B)
    func write(_ path: String) throws {
        let writer = try HDF5Writer(creating: path)
        try writer.createGroup("/graft")
        try writer.writeAttribute("probe", integers: [Int64](repeating: 1, count: Int(integers)), of: "/graft")
        try writer.writeAttribute("names", strings: [String](repeating: "x", count: Int(strings)), of: "/graft")
        try writer.close()
    }
    let huge: Int64 = (1 << 62) + 2
    for (attribute, count) in [("probe", integers), ("names", strings)] {
        // The size only, or the size and the maximum size.
        for patches in [1, 2] {
            try? FileManager.default.removeItem(atPath: path)
            try write(path)
            #expect(try patch(path, count, with: huge, times: patches) == patches)
            let file = try HDF5File(readingFrom: path)
            expectFormatError("\(attribute) as integers") { _ = try file.integerAttribute(attribute, of: "/graft") }
            expectFormatError("\(attribute) as doubles") { _ = try file.doubleAttribute(attribute, of: "/graft") }
            expectFormatError("\(attribute) as strings") { _ = try file.stringAttribute(attribute, of: "/graft") }
        }
    }
    let sound = path + ".sound"
    try write(sound)
    #expect(try HDF5File(readingFrom: sound).integerAttribute("probe", of: "/graft")?.count == Int(integers))
}

@Test("a model file whose head declares more weights than the file holds is refused before they are allocated")
func modelFileWithAHugeHead() throws {
    let path = try temporaryFile("model.h5")
    defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
    // 2,603 hidden units: a count that appears in the file only as that
    // attribute and the shapes of the Dense layers around it.
    let units: Int64 = 0x0A2B
    try transferModel(hidden: [Int(units)]).save(to: path)
    #expect(try patch(path, units, with: 1 << 40) >= 1)
    expectFormatError("load") { _ = try TransferModel.load(from: path, threads: 2) }
    // The process goes on: a sound model still loads.
    let sound = try temporaryFile("sound.h5")
    defer { try? FileManager.default.removeItem(atPath: (sound as NSString).deletingLastPathComponent) }
    try transferModel(hidden: [4]).save(to: sound)
    #expect(try TransferModel.load(from: sound, threads: 2).head.hiddenUnits == [4])
}
