import Foundation
import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// int8 inference of the base (opt-in): calibrated on images, its features
// against Keras's float32 ones (tools/make_fixtures.py's goldens).

private func calibratedModel(_ tag: String, height: Int, width: Int) throws -> (Model, Tensor) {
    var options = ModelOptions()
    options.weights = .file(try Fixtures.path("resnet50_random_tf.h5"))
    options.inputHeight = height
    options.inputWidth = width
    let model = try Model(options)
    let input = try Fixtures.array("pre_\(tag).f32")
    try model.calibrate(preprocessed: input.data, count: input.shape[0])
    return (model, input)
}

// Each int8 convolution rounds its input to 1/255 of its calibrated range
// and its kernel to 1/127 of each channel's largest weight; through the 52
// convolutions after the stem the features move by 1.8-2.9% of their norm
// on these images (measured; calibrated on themselves, so no value is held
// to 255). The bar, 5% of each image's norm, leaves room for that; a wrong
// scale, packing or range moves them by O(1).
@Test("int8 features stay near Keras's float32 ones", .enabled(if: PackedKernel.isAvailable(.int8)),
      arguments: goldenSizes)
func int8FeaturesNearKeras(height: Int, width: Int) throws {
    let tag = "\(height)x\(width)"
    let (model, input) = try calibratedModel(tag, height: height, width: width)
    try model.setPrecision(.int8)
    let expected = try Fixtures.array("out_\(tag).f32")
    let out = Tensor(shape: expected.shape)
    try model.features(preprocessed: input.data, count: input.shape[0], output: out.data)
    for (image, error) in relativeErrorsPerImage(out.data, expected).enumerated() {
        #expect(error <= 0.05, "image \(image) at \(tag): relative error \(error)")
    }
}

@Test("calibration keeps the largest value of every output that is never negative, and leaves out the others")
func calibrationRanges() throws {
    let (model, _) = try calibratedModel("32x32", height: 32, width: 32)
    let ranges = try #require(model.calibration?.ranges)
    // ReLUs' outputs (each block's last), in their convolutions' ops.
    for name in ["conv1_relu", "conv2_block1_out", "conv5_block3_out"] {
        #expect((ranges[name] ?? 0) > 0, "\(name)")
    }
    // The stem's input (preprocessed pixels) and a convolution's output
    // before its ReLU are not a ReLU's.
    #expect(ranges[model.base.layers[0].name] == nil)
    #expect(ranges.keys.allSatisfy { !$0.hasSuffix("_bn") })
}

@Test("int8 is refused before calibration, and on a CPU without AVX512_VNNI, with a clear error")
func int8NeedsCalibrationAndVNNI() throws {
    var options = ModelOptions()
    options.weights = .file(try Fixtures.path("resnet50_random.h5"))
    options.inputHeight = 32
    options.inputWidth = 32
    options.precision = .int8
    #expect(throws: GraftError.self) { try Model(options) }
    options.precision = .float32
    let model = try Model(options)
    #expect(throws: GraftError.self) { try model.setPrecision(.int8) }
    #expect(model.precision == .float32)
    if !PackedKernel.isAvailable(.int8) {
        let input = try Fixtures.array("pre_32x32.f32")
        try model.calibrate(preprocessed: input.data, count: input.shape[0])
        #expect(throws: GraftError.self) { try model.setPrecision(.int8) }
    }
}

@Test("int8's calibration is saved with the model and read back: the same int8 predictions, bit for bit",
      .enabled(if: PackedKernel.isAvailable(.int8)))
func int8CalibrationSavedAndLoaded() throws {
    let model = try transferModel()
    let count = 4, classes = model.head.numClasses
    let images = (0..<(count * 32 * 32 * 3)).map { Float(($0 * 7919) % 256) }
    try model.calibrateBase { try $0.calibrate(images: images, count: count) }
    try model.setPrecision(.int8)
    var expected = [Float](repeating: 0, count: count * classes)
    try model.logits(images: images, count: count, into: &expected)

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("graft-int8-\(UUID().uuidString).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try model.save(to: path)
    let loaded = try TransferModel.load(from: path, threads: 2, precision: .int8)
    #expect(loaded.base.calibration == model.base.calibration)
    var logits = [Float](repeating: 0, count: count * classes)
    try loaded.logits(images: images, count: count, into: &logits)
    #expect(logits == expected)
    // A model saved without a calibration loads without one, and refuses int8.
    try transferModel().save(to: path)
    #expect(try TransferModel.load(from: path).base.calibration == nil)
    #expect(throws: GraftError.self) { try TransferModel.load(from: path, precision: .int8) }
}
