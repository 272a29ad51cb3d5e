import Foundation
import GraftFoundation
import GraftIO
import Testing

// The two readers under Keras 3's files: JSON (config.json, model_config)
// and zip (.keras). Each malformed or hostile input is a .format error, never
// a crash or an allocation the input sizes; what Graft writes, Python's json
// and zipfile modules read (the live tests in test_keras_interop.py).

private func scratchPath(_ name: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("graft-keras-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.appendingPathComponent(name).path
}

private func parse(_ text: String) throws -> JSON { try JSON.parse(Array(text.utf8)) }

private func formatError(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as GraftError {
        return error.kind == .format ? error.message : "wrong kind: \(error)"
    } catch {
        return "not a GraftError: \(error)"
    }
}

@Test func jsonReadsWhatPythonWrites() throws {
    let text = #"{"filters": 64, "epsilon": 1.001e-05, "rate": 0.5, "name": "caf\u00e9 \ud83d\ude00\n", "flags": [true, false, null], "nan": NaN, "big": -Infinity}"#
    let value = try parse(text)
    #expect(value["filters"] == .integer(64))
    #expect(value["epsilon"] == .number(1.001e-05))
    #expect(value["name"]?.stringValue == "café 😀\n")
    #expect(value["flags"] == .array([.bool(true), .bool(false), .null]))
    #expect(value["nan"]?.doubleValue?.isNaN == true)
    #expect(value["big"] == .number(-.infinity))
    // Written back as json.dumps writes it: integers stay integers, floats keep a point.
    #expect(try parse("{\"a\": [1, 2.0, -0.25, \"x\\\"y\"], \"b\": {}}").text == "{\"a\": [1, 2.0, -0.25, \"x\\\"y\"], \"b\": {}}")
    let plain = try parse(#"{"a": 1, "b": [2.5, "caf\u00e9\t", {"c": null}]}"#)
    #expect(try parse(plain.text) == plain)
}

@Test func jsonRefusesMalformedText() {
    for bad in ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "\"a\u{01}b\"", "[1] 2", "tru", "\"\\ud800x\"", "\"\\q\"", "01x", "-"] {
        let message = formatError { _ = try parse(bad) }
        #expect(message?.contains("invalid JSON") == true, "\(bad.debugDescription): \(message ?? "accepted")")
    }
    let deep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
    #expect(formatError { _ = try parse(deep) }?.contains("nested deeper") == true)
    let shallow = String(repeating: "[", count: JSON.maxDepth - 1) + String(repeating: "]", count: JSON.maxDepth - 1)
    #expect(formatError { _ = try parse(shallow) } == nil)
}

@Test func zipMembersRoundTripAndAreChecked() throws {
    let path = try scratchPath("a.keras")
    let source = try scratchPath("source.bin")
    let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    try Data(big).write(to: URL(fileURLWithPath: source))
    let writer = try ZipWriter(creating: path)
    try writer.add("metadata.json", bytes: Array("{}".utf8))
    try writer.add("model.weights.h5", contentsOf: source)
    try writer.close()

    let archive = try ZipArchive(readingFrom: path)
    #expect(archive.members.map(\.name) == ["metadata.json", "model.weights.h5"])
    #expect(try archive.contents(of: "metadata.json", limit: 10) == Array("{}".utf8))
    #expect(try archive.contents(of: "model.weights.h5", limit: .max) == big)
    #expect(formatError { _ = try archive.contents(of: "model.weights.h5", limit: 1000) }?.contains("more than the 1000") == true)
    #expect(formatError { _ = try archive.contents(of: "config.json", limit: .max) }?.contains("holds no config.json") == true)

    // One flipped byte of a member's data: its CRC-32 refuses it.
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[30 + "metadata.json".utf8.count + 2 + 30 + "model.weights.h5".utf8.count + 1000] ^= 1
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    #expect(formatError { _ = try ZipArchive(readingFrom: path).contents(of: "model.weights.h5", limit: .max) }?
        .contains("CRC-32") == true)

    // Cut short: the directory is gone, or lies outside the file.
    for length in [0, 10, bytes.count / 2, bytes.count - 1] {
        try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
        #expect(formatError { _ = try ZipArchive(readingFrom: path) } != nil, "cut at \(length)")
    }
}

@Test func zipDirectoriesThatLieAreRefused() throws {
    let path = try scratchPath("b.keras")
    let writer = try ZipWriter(creating: path)
    try writer.add("config.json", bytes: Array("{\"a\": 1}".utf8))
    try writer.close()
    let sound = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let directory = sound.count - 22 - 46 - "config.json".utf8.count
    // Each field a lie: the member's sizes, its header's offset, the directory's count, size and offset.
    // (The end record: the member counts at -14, the directory's size at -10, its offset at -6.)
    for (offset, value) in [(directory + 20, UInt32.max - 1), (directory + 24, UInt32.max - 1), (directory + 42, 1 << 30),
                            (sound.count - 14, 7 << 16 | 7), (sound.count - 10, 1 << 20), (sound.count - 6, 1 << 30)] as [(Int, UInt32)] {
        var bytes = sound
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let message = formatError { _ = try ZipArchive(readingFrom: path).contents(of: "config.json", limit: 1 << 20) }
        #expect(message != nil, "lie at \(offset) accepted")
    }
}
