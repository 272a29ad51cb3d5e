import CGraftABI
import Foundation
import Testing

// Hostile input through the C ABI: every bad call returns an error status
// with a message, never traps, and leaves the handle usable.

private var lastError: String { String(cString: graft_last_error()) }

/// What C's graft_model_options_init(&o) macro expands to.
private func initOptions(_ o: inout graft_model_options) {
    graft_model_options_init_sized(&o, MemoryLayout<graft_model_options>.size)
}

private func smallOptions() -> graft_model_options {
    var o = graft_model_options()
    initOptions(&o)
    o.input_height = 32
    o.input_width = 32
    return o
}

private func create(_ options: graft_model_options) -> (graft_status, OpaquePointer?) {
    var o = options
    var handle: OpaquePointer? = OpaquePointer(bitPattern: 0xdead)
    let status = graft_model_create(&o, &handle)
    return (status, handle)
}

@Test("version, ABI version and defaults")
func versionAndDefaults() {
    #expect(String(cString: graft_version()).split(separator: ".").count == 3)
    #expect(graft_abi_version() == GRAFT_ABI_VERSION)
    var o = graft_model_options()
    initOptions(&o)
    #expect(o.struct_size == MemoryLayout<graft_model_options>.size)
    #expect(String(cString: o.architecture) == "resnet50")
    #expect(o.weights == nil && o.input_height == 224 && o.input_width == 224)
    #expect(o.preprocessing == Int32(GRAFT_PREPROCESS_CAFFE.rawValue) && o.num_threads == 0)
    graft_model_options_init_sized(nil, 64)
}

@Test("options_init writes only the bytes of the caller's (possibly older, shorter) struct")
func optionsInitRespectsCallerSize() {
    let known = MemoryLayout<graft_model_options>.offset(of: \.seed)!
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0xAB, count: 256)
    graft_model_options_init_sized(buffer.assumingMemoryBound(to: graft_model_options.self), known)
    #expect(buffer.load(as: Int.self) == known)
    let untouched = (known..<256).allSatisfy { buffer.load(fromByteOffset: $0, as: UInt8.self) == 0xAB }
    #expect(untouched)
}

@Test("graft_model_create refuses bad options with a clear message and a NULL handle")
func createRefusesBadOptions() throws {
    var handle: OpaquePointer?
    #expect(graft_model_create(nil, &handle) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("options"))
    var o = smallOptions()
    #expect(graft_model_create(&o, nil) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("out"))

    var uninitialised = graft_model_options()
    var (status, h) = create(uninitialised)
    #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && h == nil && lastError.contains("graft_model_options_init"))
    uninitialised.struct_size = 1 << 40
    #expect(create(uninitialised).0 == GRAFT_ERROR_INVALID_ARGUMENT)

    o = smallOptions()
    o.input_height = 31
    (status, h) = create(o)
    #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && h == nil && lastError.contains("32"))
    o.input_height = Int32.max
    (status, h) = create(o)
    #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && h == nil && lastError.contains("too large"))

    o = smallOptions()
    o.num_threads = -1
    #expect(create(o).0 == GRAFT_ERROR_INVALID_ARGUMENT)

    o = smallOptions()
    o.preprocessing = 99
    #expect(create(o).0 == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("preprocessing"))

    o = smallOptions()
    (status, h) = "resnet49".withCString { name in
        o.architecture = name
        return create(o)
    }
    #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && h == nil && lastError.contains("resnet49"))

    o = smallOptions()
    (status, h) = "".withCString { path in
        o.weights = path
        return create(o)
    }
    #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && h == nil && lastError.contains("empty"))

    o = smallOptions()
    (status, h) = "/no/such/file.h5".withCString { path in
        o.weights = path
        return create(o)
    }
    #expect(status == GRAFT_ERROR_IO && h == nil && lastError.contains("/no/such/file.h5"))

    let wrong = try Fixtures.path("resnet101_random.h5")
    (status, h) = wrong.withCString { path in
        o.weights = path
        return create(o)
    }
    #expect(status == GRAFT_ERROR_FORMAT && h == nil && lastError.contains("conv4_block7"))
}

@Test("an options struct from an older, shorter header gets defaults for the fields it lacks")
func shorterOptionsStruct() {
    var o = smallOptions()
    o.num_threads = 12345  // beyond the caller's struct: must be ignored
    o.struct_size = MemoryLayout<graft_model_options>.offset(of: \.num_threads)!
    let (status, handle) = create(o)
    #expect(status == GRAFT_OK, "\(lastError)")
    graft_model_free(handle)
}

@Test("calls with NULLs or bad counts fail cleanly and leave the model usable")
func badCallsLeaveModelUsable() throws {
    let (status, handle) = create(smallOptions())
    try #require(status == GRAFT_OK, "\(lastError)")
    defer { graft_model_free(handle) }
    var (h, w, c): (Int32, Int32, Int32) = (0, 0, 0)
    #expect(graft_model_feature_shape(handle, &h, &w, &c) == GRAFT_OK && (h, w, c) == (1, 1, 2048))
    #expect(graft_model_input_shape(handle, &h, &w) == GRAFT_OK && (h, w) == (32, 32))
    #expect(graft_model_feature_shape(nil, &h, &w, &c) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_model_feature_shape(handle, nil, &w, &c) == GRAFT_ERROR_INVALID_ARGUMENT)

    var input = [Float](repeating: 50, count: 2 * 32 * 32 * 3)
    var out = [Float](repeating: 0, count: 2 * 2048)
    #expect(graft_model_features(nil, input, 1, &out) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("model"))
    #expect(graft_model_features(handle, nil, 1, &out) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("preprocessed_nhwc"))
    #expect(graft_model_features(handle, input, 1, nil) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("features_out"))
    for count: Int64 in [0, -1, Int64.min] {
        #expect(graft_model_features(handle, input, count, &out) == GRAFT_ERROR_INVALID_ARGUMENT)
        #expect(graft_model_image_features(handle, input, count, &out) == GRAFT_ERROR_INVALID_ARGUMENT)
    }
    #expect(lastError.contains("count"))
    #expect(graft_model_features(handle, input, Int64.max, &out) == GRAFT_ERROR_INVALID_ARGUMENT)

    // Still usable: the first image gives the same features alone as in a
    // batch of two (up to float32 summation order, which depends on how the
    // batch is cut into GEMM tiles: 1e-5 of the largest value).
    for i in 0..<(32 * 32 * 3) { input[i] = Float(i % 255) }
    #expect(graft_model_image_features(handle, input, 2, &out) == GRAFT_OK)
    var one = [Float](repeating: 0, count: 2048)
    #expect(graft_model_image_features(handle, input, 1, &one) == GRAFT_OK)
    let largest = one.map(abs).max()!
    let worst = zip(one, out[0..<2048]).map { abs($0 - $1) }.max()!
    #expect(largest > 0 && worst <= 1e-5 * largest)
}

@Test("layer names: Keras order, negative indices from the end, NULL out of range")
func layerNames() throws {
    let (status, handle) = create(smallOptions())
    try #require(status == GRAFT_OK)
    defer { graft_model_free(handle) }
    #expect(graft_model_base_layer_count(handle) == 175)
    #expect(graft_model_base_layer_count(nil) == -1)
    #expect(String(cString: graft_model_base_layer_name(handle, 0)!) == "input_layer")
    #expect(String(cString: graft_model_base_layer_name(handle, -10)!) == "conv5_block3_1_conv")
    #expect(String(cString: graft_model_base_layer_name(handle, -1)!) == "conv5_block3_out")
    #expect(graft_model_base_layer_name(handle, 175) == nil)
    #expect(graft_model_base_layer_name(handle, -176) == nil)
    #expect(graft_model_base_layer_name(nil, 0) == nil)
    graft_model_free(nil)
}
