import Foundation
import GraftFoundation
import GraftIO
import GraftKernels
import GraftModel
import Testing

private func resnet50() throws -> Network {
    try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 1)
}

private func loadError(_ path: String, into network: Network? = nil) throws -> GraftError? {
    let network = try network ?? resnet50()
    do {
        try network.loadWeights(from: KerasWeightFile(path: path), modelName: "resnet50")
        return nil
    } catch let error as GraftError {
        return error
    }
}

/// A scratch copy of a fixture, cut to `bytes` bytes or overwritten by `text`.
private func damagedCopy(of name: String, keepingBytes bytes: Int? = nil, text: String? = nil) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("graft-\(UUID().uuidString).h5").path
    if let text {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } else {
        let data = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path(name)))
        try data.prefix(bytes!).write(to: URL(fileURLWithPath: path))
    }
    return path
}

@Test("both layouts load to the same weights: names with and without :0, fixed- and variable-length strings")
func bothLayoutsLoad() throws {
    let keras3 = try resnet50(), keras2 = try resnet50()
    try keras3.loadWeights(from: KerasWeightFile(path: Fixtures.path("resnet50_random.h5")), modelName: "resnet50")
    try keras2.loadWeights(from: KerasWeightFile(path: Fixtures.path("resnet50_random_tf.h5")), modelName: "resnet50")
    for (a, b) in zip(keras3.layers, keras2.layers) {
        let same = a.weights.map(\.array) == b.weights.map(\.array)
        #expect(same, "layer \(a.name)")
    }
    // The weights really came from the file: the BN statistics are not the
    // initial identity, and the shortcut and main-branch kernels of the first
    // block (same shape) were not swapped.
    let bn = keras3.layers[keras3.index(of: "conv2_block1_0_bn")!]
    #expect(bn.weights[2].array.contains { $0 != 0 })
    let file = try KerasWeightFile(path: Fixtures.path("resnet50_random.h5"))
    let stored = try file.values(of: file.weights(of: "conv2_block1_0_conv")[0])
    let shortcutMatches = keras3.layers[keras3.index(of: "conv2_block1_0_conv")!].weights[0].array == stored
    let mainBranchDiffers = keras3.layers[keras3.index(of: "conv2_block1_3_conv")!].weights[0].array != stored
    #expect(shortcutMatches && mainBranchDiffers)
}

@Test("a file that also holds the ImageNet-style top loads, the top ignored")
func fileWithTopLoads() throws {
    let withTop = try resnet50(), plain = try resnet50()
    try withTop.loadWeights(from: KerasWeightFile(path: Fixtures.path("resnet50_random_top.h5")), modelName: "resnet50")
    try plain.loadWeights(from: KerasWeightFile(path: Fixtures.path("resnet50_random.h5")), modelName: "resnet50")
    for (a, b) in zip(withTop.layers, plain.layers) {
        let same = a.weights.map(\.array) == b.weights.map(\.array)
        #expect(same, "layer \(a.name)")
    }
}

@Test("a file of another architecture is refused, naming a layer, and the weights stay as they were")
func otherArchitecture() throws {
    let network = try resnet50()
    let before = network.layers.map { $0.weights.map(\.array) }
    let error = try #require(try loadError(Fixtures.path("resnet101_random.h5"), into: network))
    #expect(error.kind == .format)
    #expect(error.message.contains("conv4_block7_1_conv"))
    let unchanged = network.layers.map { $0.weights.map(\.array) } == before
    #expect(unchanged, "a failed load changed the weights")

    // The other way round: ResNet101 misses layers in a ResNet50 file.
    let deeper = try Network.resnet(.resnet101, inputHeight: 32, inputWidth: 32, seed: 1)
    let missing = try #require(try loadError(Fixtures.path("resnet50_random.h5"), into: deeper))
    #expect(missing.kind == .format)
    #expect(missing.message.contains("conv4_block7_1_conv"))
}

@Test("a weight of the wrong shape is refused, naming the layer and both shapes")
func wrongShape() throws {
    let error = try #require(try loadError(Fixtures.path("resnet50_bad_shape.h5")))
    #expect(error.kind == .format)
    #expect(error.message.contains("conv2_block1_2_conv"))
    #expect(error.message.contains("(3, 3, 64, 32)") && error.message.contains("(3, 3, 64, 64)"))
}

@Test("missing, non-HDF5, truncated and empty files give clear errors")
func badFiles() throws {
    let missing = try #require(try loadError("/nonexistent/weights.h5"))
    #expect(missing.kind == .io && missing.message.contains("/nonexistent/weights.h5"))

    let directory = try #require(try loadError(FileManager.default.temporaryDirectory.path))
    #expect(directory.kind == .io)

    let text = try damagedCopy(of: "", text: "not an HDF5 file\n")
    defer { try? FileManager.default.removeItem(atPath: text) }
    let notHDF5 = try #require(try loadError(text))
    #expect(notHDF5.kind == .format && notHDF5.message.contains(text))

    let empty = try damagedCopy(of: "", text: "")
    defer { try? FileManager.default.removeItem(atPath: empty) }
    #expect(try loadError(empty)?.kind == .format)

    // Cut at several points: in the header, in the metadata, in the data.
    let size = try FileManager.default.attributesOfItem(atPath: Fixtures.path("resnet50_random.h5"))[.size] as! Int
    for keep in [100, 4096, size / 3, size - 1000] {
        let cut = try damagedCopy(of: "resnet50_random.h5", keepingBytes: keep)
        defer { try? FileManager.default.removeItem(atPath: cut) }
        let error = try #require(try loadError(cut), "file cut to \(keep) bytes")
        #expect(error.kind == .format, "file cut to \(keep) bytes: \(error.message)")
    }
}

@Test("weights=\"imagenet\" looks in GRAFT_WEIGHTS_DIR, then Keras's cache, and says where it looked")
func imagenetLookup() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graft-weights-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let keras = folder.appendingPathComponent("keras")
    setenv("KERAS_HOME", keras.path, 1)
    setenv("GRAFT_WEIGHTS_DIR", folder.path, 1)
    defer { unsetenv("GRAFT_WEIGHTS_DIR"); unsetenv("KERAS_HOME") }

    var options = ModelOptions()
    options.weights = .imagenet
    options.inputHeight = 32
    options.inputWidth = 32
    do {
        _ = try Model(options)
        Issue.record("expected a missing-file error")
    } catch let error as GraftError {
        #expect(error.kind == .io)
        #expect(error.message.contains(folder.path + "/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"))
        #expect(error.message.contains(keras.path + "/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"))
        #expect(error.message.contains("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"))
    }

    // Found in Keras's cache.
    try FileManager.default.createDirectory(at: keras.appendingPathComponent("models"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
        atPath: keras.appendingPathComponent("models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").path,
        withDestinationPath: Fixtures.path("resnet50_random_tf.h5"))
    let model = try Model(options)
    let file = try KerasWeightFile(path: Fixtures.path("resnet50_random_tf.h5"))
    let expected = try file.values(of: file.weights(of: "conv1_conv")[0])
    let loaded = model.base.layers[model.base.index(of: "conv1_conv")!].weights[0].array == expected
    #expect(loaded)
}
