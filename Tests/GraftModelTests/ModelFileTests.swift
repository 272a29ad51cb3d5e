import Foundation
import GraftData
import GraftFoundation
import GraftIO
import GraftKernels
import GraftModel
import Testing

// Saving and loading whole models (TransferModel.save / load), in Graft's
// .h5 and in Keras 3's .keras archive. Keras reading the same files is
// checked live in bindings/python/tests/test_keras_interop.py.

private func temporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("graft-save-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

private func logits(_ model: TransferModel, _ images: [Float], count: Int) throws -> [Float] {
    var out = [Float](repeating: 0, count: count * model.head.numClasses)
    try model.logits(images: images, count: count, into: &out)
    return out
}

private func images(count: Int) -> [Float] {
    (0..<(count * 32 * 32 * 3)).map { Float(($0 * 7919) % 256) }
}

/// The loaded model's head, preprocessing, weights and logits are the saved one's.
private func expectSameComputation(_ loaded: TransferModel, _ model: TransferModel) throws {
    #expect(loaded.head.hiddenUnits == model.head.hiddenUnits && loaded.head.dropout == model.head.dropout
            && loaded.head.numClasses == model.head.numClasses)
    #expect(loaded.base.preprocessing == model.base.preprocessing)
    let sameWeights = allWeights(loaded) == allWeights(model)
    #expect(sameWeights, "a weight differs after loading")
    let x = images(count: 4)
    #expect(try logits(loaded, x, count: 4) == logits(model, x, count: 4))
}

@Test("a saved model loads with the same predictions, layers, flags, class names and optimizer")
func saveAndLoadRoundTrip() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let augmentation: [AugmentationLayer] = [
        .flip(.horizontal), .rotation(try RandomRotation(factor: .pair(-0.1, 0.2), fillMode: .constant, fillValue: 9))]
    let model = try transferModel(augmentation: augmentation, hidden: [8], dropout: 0.25)
    model.setBaseTrainable(false)
    try model.setTrainable(true, layer: -12)
    try model.setClassNames(["red", "green", "blue"])
    try model.compile(.sgd(learningRate: 0.05, momentum: 0.9, nesterov: true))
    _ = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 1)  // weights no longer the file's

    let path = folder + "/model.h5"
    try model.save(to: path)
    let loaded = try TransferModel.load(from: path, threads: 2)
    #expect(loaded.layers.map(\.name) == model.layers.map(\.name))
    #expect(loaded.layers.map(\.trainable) == model.layers.map(\.trainable))
    #expect(loaded.classNames == ["red", "green", "blue"])
    #expect(loaded.optimizer?.config == model.optimizer?.config)
    #expect(loaded.augmentation == augmentation && loaded.seed == model.seed)
    try expectSameComputation(loaded, model)

    // It continues training.
    let history = try loaded.fit(try colourDataset(count: 16, seed: 4), epochs: 1)
    #expect(history.loss.count == 1 && history.loss[0].isFinite)
    // No temporary file is left beside it.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.h5"])
}

@Test("a .keras archive loads with the same predictions, layers, flags, augmentation and class names")
func kerasArchiveRoundTrip() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let augmentation: [AugmentationLayer] = [
        .flip(.horizontal), .rotation(try RandomRotation(factor: .pair(-0.1, 0.2), fillMode: .constant, fillValue: 9)),
        .zoom(try RandomZoom(heightFactor: .number(0.2), interpolation: .nearest)),
        .contrast(try RandomContrast(factor: .pair(0.1, 0.3), valueRange: (0, 1)))]
    let model = try transferModel(augmentation: augmentation, hidden: [8], dropout: 0.25)
    model.setBaseTrainable(false)
    try model.setTrainable(true, layer: -12)
    try model.setClassNames(["red", "green", "blue"])
    try model.compile(.adam(learningRate: 0.01))
    _ = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 1)

    let path = folder + "/model.keras"
    try model.save(to: path)
    let loaded = try TransferModel.load(from: path, threads: 2)
    #expect(loaded.layers.map(\.name) == model.layers.map(\.name))
    // Keras's InputLayer has no trainable flag: every other layer's is kept.
    #expect(loaded.layers.dropFirst().map(\.trainable) == model.layers.dropFirst().map(\.trainable))
    #expect(loaded.augmentation == augmentation)
    #expect(loaded.classNames == ["red", "green", "blue"] && loaded.optimizer == nil)
    try expectSameComputation(loaded, model)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.keras"])
}

@Test("an uncompiled model without class names saves and loads as such")
func saveUncompiled() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel()
    try model.save(to: folder + "/m.h5")
    let loaded = try TransferModel.load(from: folder + "/m.h5")
    #expect(loaded.optimizer == nil && loaded.classNames == nil && loaded.augmentation.isEmpty)
}

@Test("a failed save leaves the previous file intact")
func failedSaveKeepsOldFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel()
    let path = folder + "/model.h5"
    try model.save(to: path)
    let before = try Data(contentsOf: URL(fileURLWithPath: path))

    // Saves that fail: a file system that takes no files, a folder that does
    // not exist, a path that is a folder.
    #expect(throws: GraftError.self) { try model.save(to: "/proc/graft-model.h5") }
    #expect(throws: GraftError.self) { try model.save(to: folder + "/missing-folder/model.h5") }
    #expect(throws: GraftError(.io, "cannot save to \(folder): it is a directory, not a regular file; left untouched")) {
        try model.save(to: folder)
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.h5"])
}

@Test("save refuses a FIFO or a link to one untouched, writes through a link to a file, refuses a dangling link")
func saveTargets() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel()
    func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }
    // Renaming over a FIFO (or a device: as root, save("/dev/full") once
    // replaced the device) would turn it into a plain file.
    let fifo = folder + "/pipe.h5"
    #expect(mkfifo(fifo, 0o600) == 0)
    let toFIFO = folder + "/to-pipe.h5"
    try FileManager.default.createSymbolicLink(atPath: toFIFO, withDestinationPath: fifo)
    for path in [fifo, toFIFO] {
        #expect(throws: GraftError(.io, "cannot save to \(path): it is a FIFO, not a regular file; left untouched")) {
            try model.save(to: path)
        }
    }
    #expect(kind(fifo) == S_IFIFO && kind(toFIFO) == S_IFLNK)

    // Through a link: the file it points to is replaced, the link stays.
    let real = folder + "/runs/model.h5"
    try FileManager.default.createDirectory(atPath: folder + "/runs", withIntermediateDirectories: true)
    try Data("old".utf8).write(to: URL(fileURLWithPath: real))
    let link = folder + "/latest.h5"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "runs/model.h5")
    try model.save(to: link)
    #expect(kind(link) == S_IFLNK && kind(real) == S_IFREG)
    #expect(try TransferModel.load(from: real).head.numClasses == model.head.numClasses)

    let dangling = folder + "/dangling.h5"
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "nowhere/model.h5")
    #expect(throws: GraftError.self) { try model.save(to: dangling) }
    #expect(kind(dangling) == S_IFLNK)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/runs") == ["model.h5"])
}

@Test("a save removes the temporary files that killed saves of the same path left, and only those")
func staleTemporariesRemoved() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel()
    var buffer = [CChar](repeating: 0, count: 256)
    #expect(gethostname(&buffer, 255) == 0)
    let host = String(String(cString: buffer).map { $0 == "." ? "_" : $0 })
    // A process that has exited: its pid names no process.
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/true")
    try child.run()
    child.waitUntilExit()
    let dead = child.processIdentifier
    let stale = [".model.h5.\(host).\(dead).0.tmp", ".model.h5.\(host).\(dead).17.tmp"]
    let kept = [".model.h5.\(host).\(getpid()).99.tmp",   // a save of this live process
                ".model.h5.otherhost.\(dead).0.tmp",       // another machine's (a shared folder)
                ".other.h5.\(host).\(dead).0.tmp",         // another path's
                "model.h5.notes"]
    for name in stale + kept { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/" + name)) }
    try model.save(to: folder + "/model.h5")
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
    #expect(left == Set(kept + ["model.h5"]))
}

@Test("loading refuses missing, corrupt and non-Graft files, naming the problem")
func loadRefusesBadFiles() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    func message(_ path: String) -> String {
        do {
            _ = try TransferModel.load(from: path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }
    #expect(message(folder + "/absent.h5").contains("not found"))
    // A Keras weight file is HDF5, but not a Graft model.
    #expect(message(try Fixtures.path("resnet50_random.h5")).contains("not a Graft model file"))
    // A Graft model cut short.
    let model = try transferModel()
    try model.save(to: folder + "/whole.h5")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: folder + "/whole.h5"))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: folder + "/cut.h5"))
    let cut = message(folder + "/cut.h5")
    #expect(cut != "loaded" && cut.contains("cut.h5"), "\(cut)")
    try Data("not an HDF5 file".utf8).write(to: URL(fileURLWithPath: folder + "/text.h5"))
    #expect(message(folder + "/text.h5").contains("not a valid HDF5 file"))
}

/// A 24-bit BMP of one colour, `size` x `size`.
private func writeBMP(_ path: String, size: Int, rgb: [UInt8]) throws {
    let row = (size * 3 + 3) / 4 * 4
    var bytes: [UInt8] = []
    func le(_ v: Int, _ n: Int) { for i in 0..<n { bytes.append(UInt8((v >> (8 * i)) & 0xFF)) } }
    bytes += Array("BM".utf8)
    le(54 + row * size, 4); le(0, 4); le(54, 4)
    le(40, 4); le(size, 4); le(size, 4); le(1, 2); le(24, 2); le(0, 4); le(row * size, 4)
    le(2835, 4); le(2835, 4); le(0, 4); le(0, 4)
    for _ in 0..<size {
        for _ in 0..<size { bytes += [rgb[2], rgb[1], rgb[0]] }
        bytes += [UInt8](repeating: 0, count: row - size * 3)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Class folders of one-colour images.
private func folderDataset(_ root: String, classes: [String]) throws -> ImageDataset {
    for (k, name) in classes.enumerated() {
        try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
        for i in 0..<2 { try writeBMP(root + "/\(name)/\(i).bmp", size: 32, rgb: [UInt8(80 * k), UInt8(40 * i), 90]) }
    }
    var options = DatasetOptions()
    (options.imageHeight, options.imageWidth, options.batchSize) = (32, 32, 2)
    return try ImageDataset.fromDirectory(root, options: options)
}

@Test("fit takes the class names of the training folders and refuses folders of other classes")
func classNamesFromFolders() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let fruits = try folderDataset(folder + "/fruits", classes: ["apple", "banana", "cherry"])
    let pets = try folderDataset(folder + "/pets", classes: ["cat", "dog", "fish"])
    let model = try transferModel()
    try model.compile(.adam())
    // Validation folders of other classes are refused before anything is taken.
    #expect(throws: GraftError.self) { _ = try model.fit(fruits, epochs: 1, validation: pets) }
    #expect(model.classNames == nil)
    _ = try model.fit(fruits, epochs: 1)
    #expect(model.classNames == ["apple", "banana", "cherry"])
    let weights = allWeights(model)
    #expect {
        _ = try model.fit(pets, epochs: 1)
    } throws: { error in
        "\(error)".contains("[\"cat\", \"dog\", \"fish\"]") && "\(error)".contains("apple")
    }
    #expect(throws: GraftError.self) { _ = try model.evaluate(pets) }
    let unchanged = allWeights(model) == weights
    #expect(unchanged)
    // In-memory images carry no names: they are accepted.
    _ = try model.evaluate(try colourDataset(count: 6, seed: 9))
}

@Test("every optimizer, its weight decay, clipping and schedule survive save and load", arguments: [
    OptimizerConfig.adamW(learningRate: 2e-3, weightDecay: 0.01, beta1: 0.8, epsilon: 1e-6, clipping: .globalNorm(2)),
    .rmsprop(learningRate: 1e-4, rho: 0.8, momentum: 0.3, epsilon: 1e-5, centered: true, clipping: .norm(0.5)),
    OptimizerConfig(name: .sgd, algorithm: .sgd(momentum: 0.5, nesterov: true),
                    learningRate: .schedule(.piecewiseConstantDecay(boundaries: [3, 9], values: [0.1, 0.01, 0.001])),
                    weightDecay: 1e-4, clipping: .value(3)),
    OptimizerConfig(name: .adam, algorithm: .adam(beta1: 0.9, beta2: 0.99, epsilon: 1e-7),
                    learningRate: .schedule(.cosineDecay(initialLearningRate: 0, decaySteps: 100, alpha: 0.1,
                                                         warmupTarget: 1e-3, warmupSteps: 10))),
])
func optimizerRoundTrip(_ config: OptimizerConfig) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel(hidden: [], dropout: 0)
    try model.compile(config)
    try model.save(to: folder + "/model.h5")
    let loaded = try TransferModel.load(from: folder + "/model.h5", threads: 2)
    #expect(loaded.optimizer?.config == config)
}

@Test("the learning rate: a schedule's by the steps taken, settable between fits only when constant")
func learningRateBetweenFits() throws {
    let model = try transferModel(hidden: [], dropout: 0)
    model.setBaseTrainable(false)
    let schedule = LearningRateSchedule.exponentialDecay(initialLearningRate: 0.1, decaySteps: 2, decayRate: 0.5)
    try model.compile(OptimizerConfig(name: .sgd, algorithm: .sgd(momentum: 0, nesterov: false),
                                      learningRate: .schedule(schedule)))
    let optimizer = try #require(model.optimizer)
    #expect(optimizer.learningRate == 0.1)
    _ = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 1)  // 2 batches of 8
    #expect(optimizer.iterations == 2 && optimizer.learningRate == schedule.rate(atStep: 2))
    #expect(throws: GraftError.self) { try optimizer.setLearningRate(0.01) }

    try model.compile(.adam(learningRate: 1e-3))
    let adam = try #require(model.optimizer)
    _ = try model.fit(try colourDataset(count: 16, seed: 3), epochs: 1)
    let taken = adam.iterations
    try adam.setLearningRate(1e-4)
    #expect(adam.learningRate == 1e-4 && adam.iterations == taken)
    #expect(throws: GraftError.self) { try adam.setLearningRate(-1) }
    #expect(adam.learningRate == 1e-4)
}

@Test("a model saved after 2 epochs, loaded and fitted from epoch 2 ends bit for bit as a fit of 4 epochs",
      arguments: [
          OptimizerConfig(name: .adamw, algorithm: .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-7),
                          learningRate: .schedule(.cosineDecay(initialLearningRate: 1e-3, decaySteps: 7,
                                                               warmupTarget: 1e-2, warmupSteps: 2)),
                          weightDecay: 0.01, clipping: .globalNorm(5)),
          .rmsprop(learningRate: 1e-3, momentum: 0.5, centered: true),
          .sgd(learningRate: 0.01, momentum: 0.9, nesterov: true),
      ])
func resumeIsBitIdentical(_ config: OptimizerConfig) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    /// The model, the last residual block and the head training (Dropout
    /// and flips drawing from the step count and the epoch).
    func model() throws -> TransferModel {
        let model = try transferModel(augmentation: [.flip(.horizontal)], hidden: [8], dropout: 0.25)
        model.setBaseTrainable(true)
        for i in 0..<(model.baseLayerCount - 10) { try model.setTrainable(false, layer: i) }
        try model.compile(config)
        return model
    }
    let whole = try model()
    _ = try whole.fit(try colourDataset(count: 12, seed: 7, batchSize: 4), epochs: 4)

    let first = try model()
    _ = try first.fit(try colourDataset(count: 12, seed: 7, batchSize: 4), epochs: 2)
    try first.save(to: folder + "/epoch2.h5")
    let resumed = try TransferModel.load(from: folder + "/epoch2.h5", threads: 2)
    #expect(resumed.optimizer?.iterations == 6 && resumed.optimizer?.learningRate == first.optimizer?.learningRate)
    let history = try resumed.fit(try colourDataset(count: 12, seed: 7, batchSize: 4), epochs: 4, initialEpoch: 2)
    #expect(history.firstEpoch == 2 && history.epochs == 2 && resumed.optimizer?.iterations == 12)
    let same = allWeights(resumed) == allWeights(whole)
    #expect(same, "the resumed fit ends with other weights than the whole one")
}
