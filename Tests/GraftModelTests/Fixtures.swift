import Foundation
import GraftIO
import GraftKernels

/// The reference data written by Keras itself (tools/make_fixtures.py, run by
/// `make fixtures`): weight files in .fixtures/model/ (or $GRAFT_FIXTURES/model), golden
/// arrays as raw float32 with their shapes in manifest.txt, and the committed
/// layer lists in Tests/Fixtures/.
enum Fixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["GRAFT_FIXTURES"], !dir.isEmpty { return dir + "/model" }
        return repository.appendingPathComponent(".fixtures/model").path
    }()

    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing fixture \(path): run `make fixtures` (it builds them with Keras)" }
    }

    /// Path of a generated fixture of another part of .fixtures/ (e.g.
    /// "training/x.f32"); throws (failing the test) when absent.
    static func path(inFixtures relative: String) throws -> String {
        let path = (directory as NSString).deletingLastPathComponent + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        return path
    }

    /// Path of a generated fixture; throws (failing the test) when absent.
    static func path(_ name: String) throws -> String {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        return path
    }

    /// A golden array and its shape.
    static func array(_ name: String) throws -> Tensor {
        let manifest = try String(contentsOfFile: try path("manifest.txt"), encoding: .utf8)
        guard let line = manifest.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else {
            throw Missing(path: directory + "/manifest.txt: " + name)
        }
        let shape = line.split(separator: " ").dropFirst().map { Int($0)! }
        let data = try Data(contentsOf: URL(fileURLWithPath: try path(name)))
        let tensor = Tensor(shape: shape)
        precondition(data.count == tensor.count * 4, "\(name): \(data.count) bytes for shape \(shape)")
        _ = data.withUnsafeBytes { tensor.buffer.initialize(from: $0.bindMemory(to: Float.self)) }
        return tensor
    }

    /// Keras's model.layers names for an architecture (committed).
    static func layerNames(_ architecture: String) throws -> [String] {
        let path = repository.appendingPathComponent("Tests/Fixtures/\(architecture)_layers.txt").path
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }
}

/// max |a − b| / max |b|: the parity measure of the engine issue.
func relativeMaxError(_ a: UnsafePointer<Float>, _ b: Tensor) -> Float {
    var worst: Float = 0, scale: Float = 0
    for i in 0..<b.count {
        worst = max(worst, abs(a[i] - b.data[i]))
        scale = max(scale, abs(b.data[i]))
    }
    return worst / scale
}

extension KerasWeightFile {
    /// A weight's values, read at the shape the (trusted) fixture declares.
    func values(of weight: Weight) throws -> [Float] {
        var values = [Float](repeating: 0, count: weight.shape.reduce(1, *))
        try values.withUnsafeMutableBufferPointer { try read(weight, into: $0.baseAddress!, count: $0.count) }
        return values
    }
}

/// Each image's ‖a − b‖ / ‖b‖ over `b`'s images (its first dimension).
func relativeErrorsPerImage(_ a: UnsafePointer<Float>, _ b: Tensor) -> [Double] {
    let perImage = b.count / b.shape[0]
    return (0..<b.shape[0]).map { image in
        var difference = 0.0, norm = 0.0
        for i in (image * perImage)..<((image + 1) * perImage) {
            difference += Double(a[i] - b.data[i]) * Double(a[i] - b.data[i])
            norm += Double(b.data[i]) * Double(b.data[i])
        }
        return (difference / norm).squareRoot()
    }
}
