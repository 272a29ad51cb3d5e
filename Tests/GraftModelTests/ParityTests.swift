import CGraftABI
import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// Graft's base against Keras's own output on the same weights and images
// (tools/make_fixtures.py). The bar is max |graft − keras| <= 1e-4 · max |keras|:
// both compute in float32 but sum in different orders (im2col GEMM with
// BatchNorm folded into the kernels here, oneDNN there); through 53
// convolutions that reordering moves outputs by about 1e-6 of their range,
// while any wrong weight, padding or layer order moves them by far more than 1e-4.
let parityTolerance: Float = 1e-4

let goldenSizes = [(100, 100), (72, 120), (32, 32)]

private func model(_ weights: String, height: Int, width: Int, threads: Int = 0,
                   precision: Precision = .float32) throws -> Model {
    var options = ModelOptions()
    options.weights = .file(try Fixtures.path(weights))
    options.inputHeight = height
    options.inputWidth = width
    options.threads = threads
    options.precision = precision
    return try Model(options)
}

@Test("base(x, training=False) equals Keras's, for preprocessed input", arguments: goldenSizes)
func featuresMatchKeras(height: Int, width: Int) throws {
    let tag = "\(height)x\(width)"
    let input = try Fixtures.array("pre_\(tag).f32"), expected = try Fixtures.array("out_\(tag).f32")
    for weights in ["resnet50_random.h5", "resnet50_random_tf.h5"] {
        let m = try model(weights, height: height, width: width)
        #expect(m.featureShape == Array(expected.shape.dropFirst()))
        let out = Tensor(shape: expected.shape)
        try m.features(preprocessed: input.data, count: input.shape[0], output: out.data)
        let error = relativeMaxError(out.data, expected)
        #expect(error <= parityTolerance, "\(weights) at \(tag): relative error \(error)")
    }
}

// bfloat16 rounds both factors of every product (2⁻⁸ relative per product);
// through 53 convolutions the features move by about 0.7% of their norm
// (measured: `graft-bench precision`). The bar, 2% of each image's feature
// norm, leaves room for that; a wrong packing or pairing moves them by O(1).
@Test("bfloat16 features stay within 2% of Keras's float32 ones",
      .enabled(if: PackedKernel.isAvailable(.bfloat16)), arguments: goldenSizes)
func bfloat16FeaturesNearKeras(height: Int, width: Int) throws {
    let tag = "\(height)x\(width)"
    let input = try Fixtures.array("pre_\(tag).f32"), expected = try Fixtures.array("out_\(tag).f32")
    let m = try model("resnet50_random_tf.h5", height: height, width: width, precision: .bfloat16)
    let out = Tensor(shape: expected.shape)
    try m.features(preprocessed: input.data, count: input.shape[0], output: out.data)
    for (image, error) in relativeErrorsPerImage(out.data, expected).enumerated() {
        #expect(error <= 0.02, "image \(image) at \(tag): relative error \(error)")
    }
}

@Test("bfloat16 is refused where the CPU cannot run it, with a clear error",
      .enabled(if: !PackedKernel.isAvailable(.bfloat16)))
func bfloat16Refused() throws {
    #expect(throws: GraftError.self) { try model("resnet50_random.h5", height: 32, width: 32, precision: .bfloat16) }
}

@Test("the caffe preprocessing inside the model equals keras.applications.resnet.preprocess_input")
func imageFeaturesMatchKeras() throws {
    let raw = try Fixtures.array("raw_100x100.f32"), expected = try Fixtures.array("out_100x100.f32")
    let m = try model("resnet50_random.h5", height: 100, width: 100)
    let out = Tensor(shape: expected.shape)
    try m.features(images: raw.data, count: 3, output: out.data)
    #expect(relativeMaxError(out.data, expected) <= parityTolerance)
}

@Test("one thread and two threads, one image at a time and in a batch, agree")
func batchingAndThreads() throws {
    let input = try Fixtures.array("pre_72x120.f32"), expected = try Fixtures.array("out_72x120.f32")
    let single = try model("resnet50_random.h5", height: 72, width: 120, threads: 1)
    let perImage = expected.count / 3
    let out = Tensor(shape: expected.shape)
    for i in 0..<3 {
        try single.features(preprocessed: input.data + i * input.count / 3, count: 1, output: out.data + i * perImage)
    }
    #expect(relativeMaxError(out.data, expected) <= parityTolerance)
}

@Test("the C entry points give exactly the Swift core's numbers")
func cEntryPointsMatchCore() throws {
    let input = try Fixtures.array("pre_100x100.f32"), raw = try Fixtures.array("raw_100x100.f32")
    let weights = try Fixtures.path("resnet50_random.h5")
    let core = try model("resnet50_random.h5", height: 100, width: 100)
    let expected = Tensor(shape: [3, 4, 4, 2048]), expectedImages = Tensor(shape: [3, 4, 4, 2048])
    try core.features(preprocessed: input.data, count: 3, output: expected.data)
    try core.features(images: raw.data, count: 3, output: expectedImages.data)

    var options = graft_model_options()
    graft_model_options_init_sized(&options, MemoryLayout<graft_model_options>.size)
    options.input_height = 100
    options.input_width = 100
    var handle: OpaquePointer?
    let status = weights.withCString { path in
        options.weights = path
        return graft_model_create(&options, &handle)
    }
    #expect(status == GRAFT_OK, "\(String(cString: graft_last_error()))")
    defer { graft_model_free(handle) }
    let out = Tensor(shape: [3, 4, 4, 2048])
    #expect(graft_model_features(handle, input.data, 3, out.data) == GRAFT_OK)
    let sameFeatures = out.array == expected.array
    #expect(sameFeatures, "graft_model_features differs from Model.features")
    #expect(graft_model_image_features(handle, raw.data, 3, out.data) == GRAFT_OK)
    let sameImageFeatures = out.array == expectedImages.array
    #expect(sameImageFeatures, "graft_model_image_features differs from Model.features(images:)")
}
