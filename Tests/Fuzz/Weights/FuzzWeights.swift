import CGraftFuzzDriver
import Glibc
import GraftIO
import GraftModel

/// One input for the Keras weight reader. Byte-level mutations of an HDF5
/// file mostly meet libhdf5's own parsing, whose memory errors on corrupt
/// metadata (Debian's 1.10.8) Graft cannot fix (README, "Damaged and hostile
/// files"); this target fuzzes what Graft does with what a sound file says.
/// The input decides a weight file's content — the layer list, the groups,
/// the weight names, each dataset's shape and values, kept, changed, dropped
/// or repeated, in either layout HDF5Writer writes — and the file is loaded
/// into a small network as `ResNet50(weights=path)` loads one. Errors are the
/// expected answer; a crash or a sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWeights(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var draws = Draws(bytes: UnsafeRawBufferPointer(start: data, count: size))
    let path = String(cString: graft_fuzz_path())
    unlink(path)  // HDF5Writer creates its file afresh
    guard (try? writeWeightFile(path, &draws)) != nil, let file = try? KerasWeightFile(path: path) else { return 0 }
    _ = try? network.loadWeights(from: file, modelName: "the fuzzed network")
    return 0
}

/// A conv, BatchNormalization, ReLU, conv, BatchNormalization network at 8x8:
/// ResNet's layer kinds and names, weights of a few hundred floats.
private let network: Network = {
    var builder = NetworkBuilder(inputHeight: 8, inputWidth: 8, seed: 0)
    var x = builder.input()
    x = builder.conv(x, filters: 4, kernel: 3, stride: 1, padding: .same, name: "conv1_conv")
    x = builder.batchNorm(x, name: "conv1_bn")
    x = builder.relu(x, name: "conv1_relu")
    x = builder.conv(x, filters: 4, kernel: 1, stride: 1, padding: .valid, name: "conv2_conv")
    _ = builder.batchNorm(x, name: "conv2_bn")
    return builder.build()
}()

/// The input, read as a sequence of choices (zeros once it runs out).
private struct Draws {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    mutating func byte() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }

    /// 0..<n (n at most 256).
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(byte()) % n }

    /// Up to 23 bytes, not necessarily UTF-8.
    mutating func text() -> String { String(decoding: (0..<below(24)).map { _ in byte() }, as: UTF8.self) }

    /// A float from four bytes: any pattern, NaN and infinities included.
    mutating func float() -> Float {
        var bits: UInt32 = 0
        for _ in 0..<4 { bits = bits << 8 | UInt32(byte()) }
        return Float(bitPattern: bits)
    }
}

/// Writes a weight file for `network`, each part as the draws decide.
private func writeWeightFile(_ path: String, _ draws: inout Draws) throws {
    let writer = try HDF5Writer(creating: path, format: draws.below(2) == 0 ? .earliest : .checksummed)
    var layers: [(name: String, weights: [(name: String, shape: [Int])])] = []
    for layer in network.layers where !layer.weights.isEmpty {
        let weights = Array(zip(layer.weightNames, layer.weights.map(\.shape)))
        switch draws.below(8) {
        case 0: continue                                             // missing
        case 1: layers.append((draws.text(), weights))               // renamed
        case 2: layers += [(layer.name, weights), (layer.name, weights)]
        default: layers.append((layer.name, weights))
        }
    }
    if draws.below(4) == 0 { layers.append(("predictions", [("kernel", [4, 3]), ("bias", [3])])) }
    switch draws.below(8) {
    case 0: break
    case 1: try writer.writeAttribute("layer_names", integers: layers.map { Int64($0.name.utf8.count) })
    default: try writer.writeAttribute("layer_names", strings: layers.map(\.name))
    }
    for layer in layers {
        try writer.createGroup("/" + layer.name + "/" + layer.name)
        let names = layer.weights.map { weight -> String in
            switch draws.below(8) {
            case 0: return layer.name + "/" + draws.text()
            case 1: return layer.name + "/" + weight.name
            default: return layer.name + "/" + weight.name + ":0"
            }
        }
        if draws.below(8) != 0 { try writer.writeAttribute("weight_names", strings: names, of: "/" + layer.name) }
        for (name, weight) in zip(names, layer.weights) where draws.below(8) != 0 {
            var shape = weight.shape
            if draws.below(4) == 0 { shape = (0..<draws.below(5)).map { _ in draws.below(9) } }
            // At least one value, so that an empty dataset has an address too.
            let values = (0..<max(shape.reduce(1, *), 1)).map { _ in draws.below(16) == 0 ? draws.float() : 0.5 }
            try values.withUnsafeBufferPointer { buffer in
                try writer.writeDataset("/" + layer.name + "/" + name, shape: shape, values: buffer.baseAddress!)
            }
        }
    }
    try writer.close()
}
