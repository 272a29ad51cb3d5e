import GraftData
import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// NaN and infinity go where TensorFlow sends them: a NaN pixel or weight makes
// the outputs it reaches NaN (TF's ReLU keeps NaN; its MaxPool passes over
// it), and training on such images stops with a numeric error instead of
// returning a finite loss. Checked against TF 2.21: ResNet50 at 32x32 with
// one NaN pixel gives NaN in every feature of that image and none in the
// others.

private func images(count: Int) -> [Float] {
    (0..<(count * 32 * 32 * 3)).map { Float(($0 * 7919) % 256) }
}

private func logits(_ model: TransferModel, _ pixels: [Float], count: Int) throws -> [Float] {
    var out = [Float](repeating: 0, count: count * model.head.numClasses)
    try model.logits(images: pixels, count: count, into: &out)
    return out
}

@Test("a NaN pixel makes its image's logits NaN and leaves the other images' as they were")
func nanPixelPropagates() throws {
    let model = try transferModel()
    var pixels = images(count: 2)
    let clean = try logits(model, pixels, count: 2)
    #expect(clean.allSatisfy { $0.isFinite })
    pixels[(5 * 32 + 5) * 3 + 1] = .nan
    let out = try logits(model, pixels, count: 2)
    #expect(out[0..<3].allSatisfy { $0.isNaN }, "\(out)")
    #expect(Array(out[3...]) == Array(clean[3...]))
}

@Test("a NaN or infinite weight makes the outputs NaN, as in Keras", arguments: [Float.nan, .infinity])
func nonFiniteWeightPropagates(value: Float) throws {
    let model = try transferModel()
    // conv1_conv's kernel: every output pixel reads it.
    let conv = try #require(model.layers.firstIndex { $0.name == "conv1_conv" })
    model.layers[conv].weights[0].data[0] = value
    model.weightsChanged()
    let out = try logits(model, images(count: 1), count: 1)
    #expect(out.allSatisfy { $0.isNaN }, "\(out)")
}

@Test("a frozen-base fit on NaN images stops with a numeric error; the weights are kept")
func fitOnNaNImagesFails() throws {
    let model = try transferModel()
    model.setBaseTrainable(false)
    try model.compile(.adam(learningRate: 0.01))
    let pixels = [Float](repeating: .nan, count: 4 * 32 * 32 * 3)
    var options = DatasetOptions()
    options.batchSize = 4
    let data = try ImageDataset.fromMemory(bytes: nil, floats: pixels, labels: [0, 1, 2, 0], count: 4, height: 32,
                                           width: 32, classCount: 3, options: options)
    let before = allWeights(model)
    #expect(throws: GraftError.self) { try model.fit(data, epochs: 1) }
    do { _ = try model.fit(data, epochs: 1) } catch let error as GraftError { #expect(error.kind == .numeric) }
    #expect(allWeights(model) == before)
}
