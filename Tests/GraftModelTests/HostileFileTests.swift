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
// The files are in HDF5's earliest layout, as Keras's are: in Graft's own
// checksummed one, the checksum would refuse the patch before these checks.

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
        let writer = try HDF5Writer(creating: path, format: .earliest)
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
    try transferModel(hidden: [Int(units)]).save(to: path, format: .earliest)
    #expect(try patch(path, units, with: 1 << 40) >= 1)
    expectFormatError("load") { _ = try TransferModel.load(from: path, threads: 2) }
    // The process goes on: a sound model still loads.
    let sound = try temporaryFile("sound.h5")
    defer { try? FileManager.default.removeItem(atPath: (sound as NSString).deletingLastPathComponent) }
    try transferModel(hidden: [4]).save(to: sound)
    #expect(try TransferModel.load(from: sound, threads: 2).head.hiddenUnits == [4])
}

@Test("reads stay inside the file: external links, external storage, virtual datasets and plugin filters are refused")
func readsStayInsideTheFile() throws {
    // Written by tools/make_hdf5_fixtures.py with h5py, which reads every
    // one of them as [1, 2, 3, 4] by following it.
    func read(_ name: String) throws -> [Float] {
        let file = try HDF5File(readingFrom: try Fixtures.path(inFixtures: "hdf5/" + name))
        var values = [Float](repeating: 0, count: 4)
        try file.readFloats("/a/d", into: &values, count: 4)
        return values
    }
    #expect(try read("plain.h5") == [1, 2, 3, 4])
    #expect(try read("deflate_shuffle_fletcher32.h5") == [1, 2, 3, 4])
    let refusals = [
        ("external_link.h5", "cannot read dataset /a/d"),
        ("external_storage.h5", "dataset /a/d keeps its data in external files, which Graft does not read"),
        ("virtual.h5", "dataset /a/d is virtual (its data lies in other files), which Graft does not read"),
        ("unknown_filter.h5", "dataset /a/d is stored through HDF5 filter 32001, which Graft does not read"),
    ]
    for (name, message) in refusals {
        do {
            let values = try read(name)
            Issue.record("\(name): read \(values)")
        } catch let error as GraftError {
            #expect(error.kind == .format && error.message.contains(message), "\(name): \(error.message)")
        }
    }
    let linked = try HDF5File(readingFrom: try Fixtures.path(inFixtures: "hdf5/external_link.h5"))
    #expect(!linked.exists("/a/d"))
}

/// A small file written as Graft writes models: groups, datasets, and
/// string, integer and double attributes.
private func writeSample(_ path: String, format: HDF5Writer.Format) throws -> [Float] {
    let values = (0..<1000).map { Float($0) * 0.25 - 7 }
    let writer = try HDF5Writer(creating: path, format: format)
    try writer.createGroup("/layer/layer")
    try writer.writeAttribute("weight_names", strings: ["layer/kernel:0", "layer/bias:0"], of: "/layer")
    try writer.writeAttribute("sizes", integers: [3, 1000], of: "/layer")
    try writer.writeAttribute("rates", doubles: [0.5, 1e-3], of: "/layer")
    try values.withUnsafeBufferPointer { try writer.writeDataset("/layer/layer/kernel:0", shape: [10, 100], values: $0.baseAddress!) }
    try values.withUnsafeBufferPointer { try writer.writeDataset("/layer/layer/bias:0", shape: [3], values: $0.baseAddress!) }
    try writer.close()
    return values
}

/// What a reader makes of the sample file: every attribute and dataset.
private struct SampleContents: Equatable {
    var names: [String]?, sizes: [Int64]?, rates: [Double]?, kernel: [Float], bias: [Float]

    init(_ path: String) throws {
        let file = try HDF5File(readingFrom: path)
        names = try file.stringAttribute("weight_names", of: "/layer")
        sizes = try file.integerAttribute("sizes", of: "/layer")
        rates = try file.doubleAttribute("rates", of: "/layer")
        kernel = [Float](repeating: 0, count: 1000)
        try file.readFloats("/layer/layer/kernel:0", into: &kernel, count: 1000)
        bias = [Float](repeating: 0, count: 3)
        try file.readFloats("/layer/layer/bias:0", into: &bias, count: 3)
    }
}

@Test("a flipped bit anywhere in a checksummed file is an error or changes nothing read; in the earliest layout it goes unseen")
func flippedBitsAreCaught() throws {
    let folder = try temporaryFile("flips")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: (folder as NSString).deletingLastPathComponent) }
    let original = folder + "/sample.h5"
    let values = try writeSample(original, format: .checksummed)
    let expected = try SampleContents(original)
    #expect(expected.kernel == values && expected.names == ["layer/kernel:0", "layer/bias:0"])
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
    let kernelAt = try #require(firstOffset(of: values.withUnsafeBytes { Array($0.prefix(64)) }, in: bytes))

    // Every byte of the file once, at a bit that moves with the byte, plus
    // every bit of the kernel's first bytes.
    let flips = bytes.indices.map { ($0, $0 % 8) } + (kernelAt..<(kernelAt + 8)).flatMap { at in (0..<8).map { (at, $0) } }
    var caught = 0, silent: [Int] = []
    let damaged = folder + "/damaged.h5"
    for (offset, bit) in flips {
        var copy = bytes
        copy[offset] ^= 1 << bit
        try Data(copy).write(to: URL(fileURLWithPath: damaged))
        do {
            if try SampleContents(damaged) != expected { silent.append(offset) }
        } catch is GraftError {
            caught += 1
        }
    }
    #expect(silent.isEmpty, "\(silent.count) flips changed what was read, at \(silent.prefix(10))")
    #expect(caught >= flips.count / 2, "\(caught) of \(flips.count) flips were errors")

    // The same flip in a kernel value of a file in HDF5's earliest layout
    // (Keras's): read back changed, with no error. What the checksums are for.
    let legacy = folder + "/legacy.h5"
    _ = try writeSample(legacy, format: .earliest)
    var legacyBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: legacy)))
    let legacyKernel = try #require(firstOffset(of: values.withUnsafeBytes { Array($0.prefix(64)) }, in: legacyBytes))
    legacyBytes[legacyKernel + 2] ^= 1
    try Data(legacyBytes).write(to: URL(fileURLWithPath: legacy))
    #expect(try SampleContents(legacy).kernel != values)
}

private func firstOffset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
}

@Test("a model file with a flipped bit in a weight is refused at load, naming the dataset")
func modelFileChecksums() throws {
    let path = try temporaryFile("model.h5")
    defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
    let model = try transferModel()
    try model.save(to: path)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    // The head's kernel: its first 64 bytes are found once in the file.
    let kernel = try #require(model.layers.last?.weights.first?.array)
    let at = try #require(firstOffset(of: kernel.withUnsafeBytes { Array($0.prefix(64)) }, in: bytes))
    bytes[at + 5] ^= 0x10
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectFormatError("load") { _ = try TransferModel.load(from: path, threads: 2) }
    do {
        _ = try TransferModel.load(from: path, threads: 2)
    } catch let error as GraftError {
        #expect(error.message.contains("dense/kernel") && error.message.contains("checksum"), "\(error.message)")
    }
}
