import CGraftABI
import Foundation
import Testing

// The augmentation layers through the C ABI: defaults, the output size,
// reproducible draws, and bad input refused with the output untouched.
// (Their pixels are checked against Keras's own layers in
// bindings/python/tests/test_augmentation.py.)

private var lastError: String { String(cString: graft_last_error()) }

private func layer(_ kind: graft_augmentation_kind, _ change: (inout graft_augmentation) -> Void = { _ in })
    -> graft_augmentation {
    var a = graft_augmentation()
    graft_augmentation_init_sized(&a, kind, MemoryLayout<graft_augmentation>.size)
    change(&a)
    return a
}

@Test("augmentation through the C ABI: Keras's defaults, RandomCrop's size, seeded draws repeat, bad input refused")
func augmentationThroughCABI() throws {
    let rotation = layer(GRAFT_AUGMENTATION_ROTATION) { $0.factor = (0.2, 0); $0.factor_count = 1 }
    #expect(rotation.fill_mode == Int32(GRAFT_FILL_REFLECT.rawValue)
        && rotation.interpolation == Int32(GRAFT_INTERPOLATION_BILINEAR.rawValue) && rotation.value_range == (0, 255))
    let crop = layer(GRAFT_AUGMENTATION_CROP) { ($0.height, $0.width) = (3, 5) }
    var layers = [layer(GRAFT_AUGMENTATION_FLIP), rotation, crop]
    var (h, w): (Int32, Int32) = (0, 0)
    #expect(graft_augmentation_output_size(&layers, 3, 8, 9, &h, &w) == GRAFT_OK && (h, w) == (3, 5), "\(lastError)")

    let images = (0..<(2 * 8 * 9 * 3)).map { Float($0 % 251) }
    func augment(seed: UInt64, call: Int64) -> [Float] {
        var out = [Float](repeating: -1, count: 2 * 3 * 5 * 3)
        #expect(graft_augment(&layers, 3, seed, call, images, 2, 8, 9, 3, &out, Int64(out.count)) == GRAFT_OK,
                "\(lastError)")
        return out
    }
    let first = augment(seed: 7, call: 0)
    #expect(first == augment(seed: 7, call: 0) && first != augment(seed: 7, call: 1) && first != augment(seed: 8, call: 0))
    #expect(!first.contains(-1))

    // Refused, `out` untouched.
    var out = [Float](repeating: -1, count: 2 * 3 * 5 * 3)
    func refused(_ status: graft_status, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains(text), "\(lastError)",
                sourceLocation: sourceLocation)
        #expect(out.allSatisfy { $0 == -1 }, sourceLocation: sourceLocation)
    }
    refused(graft_augment(&layers, 3, 7, 0, images, 2, 8, 9, 3, &out, Int64(out.count - 1)), "out_count")
    refused(graft_augment(&layers, 3, 7, 0, nil, 2, 8, 9, 3, &out, Int64(out.count)), "images")
    refused(graft_augment(&layers, 3, 7, 0, images, 2, 8, 9, 5, &out, Int64(out.count)), "channels")
    refused(graft_augment(nil, 3, 7, 0, images, 2, 8, 9, 3, &out, Int64(out.count)), "layers")
    refused(graft_augment(&layers, -1, 7, 0, images, 2, 8, 9, 3, &out, Int64(out.count)), "count")
    refused(graft_augment(&layers, 0, 7, 0, images, .max, .max, .max, 3, &out, Int64(out.count)), "more than memory")
    var bad = [layer(GRAFT_AUGMENTATION_ROTATION)]  // factor_count 0: the factor is required
    refused(graft_augment(&bad, 1, 7, 0, images, 2, 8, 9, 3, &out, Int64(out.count)), "factor is required")
    bad = [layer(GRAFT_AUGMENTATION_ZOOM) { $0.factor = (-1, 0); $0.factor_count = 1 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "(-1.0, 1.0]")
    bad = [layer(GRAFT_AUGMENTATION_TRANSLATION) { $0.factor = (0.1, 0); $0.factor_count = 1 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "width_factor is required")
    bad = [layer(GRAFT_AUGMENTATION_ROTATION) { $0.factor = (0.1, 0); $0.factor_count = 3 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "factor_count")
    bad = [layer(GRAFT_AUGMENTATION_ROTATION) { $0.factor = (0.1, 0); $0.factor_count = 1; $0.fill_mode = 9 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "fill_mode")
    bad = [layer(GRAFT_AUGMENTATION_ROTATION) {
        $0.factor = (0.1, 0); $0.factor_count = 1; $0.interpolation = Int32(GRAFT_INTERPOLATION_BICUBIC.rawValue)
    }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "bilinear or nearest")
    bad = [layer(GRAFT_AUGMENTATION_CROP)]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "at least 1")
    bad = [layer(GRAFT_AUGMENTATION_FLIP) { $0.struct_size = 0 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "struct_size")
    bad = [layer(GRAFT_AUGMENTATION_FLIP) { $0.kind = 42 }]
    refused(graft_augmentation_output_size(&bad, 1, 8, 9, &h, &w), "unknown augmentation kind")
    #expect(graft_augmentation_output_size(&layers, 3, 8, 9, nil, &w) == GRAFT_ERROR_INVALID_ARGUMENT)
    graft_augmentation_init_sized(nil, GRAFT_AUGMENTATION_FLIP, 0)  // ignored
}
