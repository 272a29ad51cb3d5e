import Foundation
import Graft
import Testing

// Graft's Swift API as a Swift program uses it: only `import Graft`. The
// fixtures' random-weight ResNet50 at 32x32 on three flat colours with noise.

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
private let randomWeights = repository.appendingPathComponent(".fixtures/model/resnet50_random.h5").path
private let size = ImageSize(32)

private func colourImages(count: Int) -> (pixels: [UInt8], labels: [Int32]) {
    var generator = SystemRandomNumberGenerator()
    let colours: [[Int]] = [[220, 40, 40], [40, 200, 60], [50, 60, 210]]
    var pixels: [UInt8] = [], labels: [Int32] = []
    for i in 0..<count {
        labels.append(Int32(i % 3))
        for _ in 0..<(size.height * size.width) {
            for c in 0..<3 { pixels.append(UInt8(max(0, min(255, colours[i % 3][c] + Int.random(in: -30...30, using: &generator))))) }
        }
    }
    return (pixels, labels)
}

@Test("version is graft.h's GRAFT_VERSION")
func versionIsTheHeaders() throws {
    let header = try String(contentsOf: repository.appendingPathComponent("include/graft.h"), encoding: .utf8)
    #expect(header.contains("#define GRAFT_VERSION \"\(Graft.version)\"\n"))
}

@Test("train, evaluate, predict, save and load through the Swift API")
func workflow() throws {
    let (pixels, labels) = colourImages(count: 24)
    let data = try ImageDataset.fromArrays(images: pixels, labels: labels, imageSize: size, classCount: 3, batchSize: 8,
                                           seed: 3)
    #expect(data.count == 24 && data.classNames == ["0", "1", "2"])
    let base = try ResNetBase(weights: .file(randomWeights), inputSize: size, threads: 2)
    #expect(base.layerCount == 175 && base.featureShape == [1, 1, 2048])
    let images = pixels.prefix(4 * 32 * 32 * 3).map(Float.init)
    #expect(try base.features(images: images).count == 4 * 2048)

    let model = try TransferModel(base: base, numClasses: 3, seed: 5)
    model.setBaseTrainable(false)
    try model.compile(optimizer: .adam(learningRate: 0.01))
    var reports = 0, epochEnds = 0
    let history = try model.fit(data, epochs: 2, validationData: data) { progress in
        reports += 1
        if progress.isEpochEnd { epochEnds += 1; #expect(progress.valAccuracy != nil) }
    }
    #expect(history.epochs == 2 && epochEnds == 2 && reports == 2 * 3 + 2)
    #expect(history.history.keys.sorted() == ["accuracy", "loss", "val_accuracy", "val_loss"])

    let (loss, accuracy) = try model.evaluate(data)
    #expect(loss.isFinite && (0...1).contains(accuracy))
    let logits = try model.predict(images: images)
    #expect(logits.count == 4 && logits.allSatisfy { $0.count == 3 })

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("graft-swift-api-\(getpid()).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let loaded = try TransferModel.load(from: path, threads: 2)
    #expect(loaded.classNames == model.classNames)
    // The same weights through the same kernels; OpenBLAS's AVX kernels are
    // not bit-reproducible between calls, so within float32 rounding.
    let largest = logits.joined().map(abs).max()!
    for (a, b) in zip(try loaded.predict(images: images).joined(), logits.joined()) {
        #expect(abs(a - b) <= 1e-5 * largest)
    }
}

@Test("bad input is an error that names it")
func errors() throws {
    #expect(throws: GraftError.self) {
        try ImageDataset.fromArrays(images: [0, 0, 0], labels: [0, 1], imageSize: size, classCount: 2)
    }
    #expect(throws: GraftError.self) { try ImageDataset.fromArrays(images: [], labels: [], imageSize: size, classCount: 2) }
    #expect(throws: GraftError.self) {
        try ImageDataset.fromArrays(images: [0, 0, 0], labels: [0], imageSize: ImageSize(height: Int.max, width: 2),
                                    classCount: 1)
    }
    #expect(throws: GraftError.self) { try ResNetBase(weights: .file("/nonexistent/weights.h5"), inputSize: size) }
    let base = try ResNetBase(weights: .file(randomWeights), inputSize: size, threads: 2)
    #expect(throws: GraftError.self) { try base.features(images: [1, 2, 3]) }
    let model = try TransferModel(base: base, numClasses: 3)
    do {
        _ = try model.predict(images: [Float](repeating: 0, count: 5))
        Issue.record("predict took 5 values")
    } catch let error as GraftError {
        #expect(error.message.contains("not whole images of 32x32x3"))
    }
    #expect(throws: GraftError.self) { try model.fit(ImageDataset.fromDirectory("/nonexistent"), epochs: 1) }
}

@Test("Distribution outside a launcher: one process, the barrier returns at once, a bad timeout refused")
func distributionAlone() throws {
    try Distribution.initialize()
    #expect(Distribution.rank == 0 && Distribution.size == 1)
    try Distribution.barrier()
    #expect(throws: GraftError.self) { try Distribution.initialize(timeout: -1) }
}
