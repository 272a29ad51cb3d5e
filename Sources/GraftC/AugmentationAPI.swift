import CGraftABI
import GraftData
import GraftKernels
import GraftFoundation

// Keras's augmentation layers through the C ABI: a layer's options read
// into the core's AugmentationLayer (which checks them as Keras does), and
// the layers applied to caller's images.

private func defaultAugmentation(_ kind: graft_augmentation_kind) -> graft_augmentation {
    graft_augmentation(struct_size: MemoryLayout<graft_augmentation>.size, kind: Int32(kind.rawValue),
                       flip: Int32(GRAFT_FLIP_HORIZONTAL_AND_VERTICAL.rawValue), factor: (0, 0), factor_count: 0,
                       width_factor: (0, 0), width_factor_count: 0, fill_mode: Int32(GRAFT_FILL_REFLECT.rawValue),
                       interpolation: Int32(GRAFT_INTERPOLATION_BILINEAR.rawValue), fill_value: 0,
                       value_range: (0, 255), height: 0, width: 0)
}

@_cdecl("graft_augmentation_init_sized")
public func graft_augmentation_init_sized(_ layer: UnsafeMutablePointer<graft_augmentation>?,
                                          _ kind: graft_augmentation_kind, _ structSize: Int) {
    guard let layer else { return }
    writeOptions(defaultAugmentation(kind), to: layer, callerSize: structSize)
}

/// A factor field pair as Keras's argument (nil for count 0).
private func factor(_ values: (Float, Float), count: Int32, _ name: String) throws -> KerasFactor? {
    switch count {
    case 0: return nil
    case 1: return .number(values.0)
    case 2: return .pair(values.0, values.1)
    default: throw GraftError.invalidArgument("\(name)_count must be 0, 1 or 2, not \(count)")
    }
}

/// The core's layer for one graft_augmentation.
func augmentationLayer(_ pointer: UnsafePointer<graft_augmentation>) throws -> AugmentationLayer {
    let c = try readOptions(pointer, defaults: defaultAugmentation(GRAFT_AUGMENTATION_FLIP),
                            initFunction: "graft_augmentation_init")
    func given(_ value: KerasFactor?, _ name: String) throws -> KerasFactor {
        guard let value else { throw GraftError.invalidArgument("\(name) is required (its count is 0)") }
        return value
    }
    let mainFactor = try factor(c.factor, count: c.factor_count, "factor")
    let widthFactor = try factor(c.width_factor, count: c.width_factor_count, "width_factor")
    func sampler() throws -> (FillMode, SampleInterpolation) {
        let mode: FillMode
        switch graft_fill_mode(rawValue: UInt32(bitPattern: c.fill_mode)) {
        case GRAFT_FILL_REFLECT: mode = .reflect
        case GRAFT_FILL_WRAP: mode = .wrap
        case GRAFT_FILL_CONSTANT: mode = .constant
        case GRAFT_FILL_NEAREST: mode = .nearest
        default: throw GraftError.invalidArgument("unknown fill_mode \(c.fill_mode)")
        }
        switch graft_interpolation(rawValue: UInt32(bitPattern: c.interpolation)) {
        case GRAFT_INTERPOLATION_BILINEAR: return (mode, .bilinear)
        case GRAFT_INTERPOLATION_NEAREST: return (mode, .nearest)
        default: throw GraftError.invalidArgument("interpolation must be bilinear or nearest, not \(c.interpolation)")
        }
    }
    switch graft_augmentation_kind(rawValue: UInt32(bitPattern: c.kind)) {
    case GRAFT_AUGMENTATION_FLIP:
        return .flip(try flipMode(graft_flip(rawValue: UInt32(bitPattern: c.flip))))
    case GRAFT_AUGMENTATION_ROTATION:
        let (mode, interpolation) = try sampler()
        return .rotation(try RandomRotation(factor: given(mainFactor, "factor"), fillMode: mode,
                                            interpolation: interpolation, fillValue: c.fill_value))
    case GRAFT_AUGMENTATION_ZOOM:
        let (mode, interpolation) = try sampler()
        return .zoom(try RandomZoom(heightFactor: given(mainFactor, "height_factor (factor)"),
                                    widthFactor: widthFactor, fillMode: mode, interpolation: interpolation,
                                    fillValue: c.fill_value))
    case GRAFT_AUGMENTATION_TRANSLATION:
        let (mode, interpolation) = try sampler()
        return .translation(try RandomTranslation(heightFactor: given(mainFactor, "height_factor (factor)"),
                                                  widthFactor: given(widthFactor, "width_factor"),
                                                  fillMode: mode, interpolation: interpolation,
                                                  fillValue: c.fill_value))
    case GRAFT_AUGMENTATION_CROP:
        return .crop(try RandomCrop(height: Int(c.height), width: Int(c.width)))
    case GRAFT_AUGMENTATION_CONTRAST:
        return .contrast(try RandomContrast(factor: given(mainFactor, "factor"), valueRange: c.value_range))
    case GRAFT_AUGMENTATION_BRIGHTNESS:
        return .brightness(try RandomBrightness(factor: given(mainFactor, "factor"), valueRange: c.value_range))
    default:
        throw GraftError.invalidArgument("unknown augmentation kind \(c.kind)")
    }
}

/// RandomFlip's mode for a graft_flip other than NONE.
func flipMode(_ flip: graft_flip) throws -> RandomFlip.Mode {
    switch flip {
    case GRAFT_FLIP_HORIZONTAL: return .horizontal
    case GRAFT_FLIP_VERTICAL: return .vertical
    case GRAFT_FLIP_HORIZONTAL_AND_VERTICAL: return .horizontalAndVertical
    default: throw GraftError.invalidArgument("unknown flip mode \(flip.rawValue)")
    }
}

/// The core's layers for a caller's array of `count`.
func augmentationLayers(_ layers: UnsafePointer<graft_augmentation>?, count: Int32) throws -> [AugmentationLayer] {
    guard count >= 0 && count <= AugmentationSpec.maxLayers else {
        throw GraftError.invalidArgument("count must be from 0 to \(AugmentationSpec.maxLayers), not \(count)")
    }
    guard count > 0 else { return [] }
    let layers = try required(layers, "layers")
    // Each element is read with its own struct_size (the caller's header's).
    var result: [AugmentationLayer] = [], at = UnsafeRawPointer(layers)
    for _ in 0..<count {
        let size = at.load(as: Int.self)
        result.append(try augmentationLayer(at.assumingMemoryBound(to: graft_augmentation.self)))
        at += size
    }
    return result
}

@_cdecl("graft_augmentation_output_size")
public func graft_augmentation_output_size(_ layers: UnsafePointer<graft_augmentation>?, _ count: Int32,
                                           _ height: Int32, _ width: Int32, _ outHeight: UnsafeMutablePointer<Int32>?,
                                           _ outWidth: UnsafeMutablePointer<Int32>?) -> graft_status {
    catchingErrors {
        let (h, w) = (try required(outHeight, "out_height"), try required(outWidth, "out_width"))
        guard height >= 1 && width >= 1 else {
            throw GraftError.invalidArgument("height and width must be at least 1, not \(height) and \(width)")
        }
        let size = Augmentation(layers: try augmentationLayers(layers, count: count), seed: 0)
            .outputSize(height: Int(height), width: Int(width))
        (h.pointee, w.pointee) = (Int32(size.height), Int32(size.width))
    }
}

@_cdecl("graft_augment")
public func graft_augment(_ layers: UnsafePointer<graft_augmentation>?, _ count: Int32, _ seed: UInt64, _ call: Int64,
                          _ images: UnsafePointer<Float>?, _ n: Int64, _ height: Int32, _ width: Int32,
                          _ channels: Int32, _ out: UnsafeMutablePointer<Float>?, _ outCount: Int64) -> graft_status {
    catchingErrors {
        let augmentation = Augmentation(layers: try augmentationLayers(layers, count: count), seed: seed)
        let (images, out) = (try required(images, "images"), try required(out, "out"))
        guard n >= 1, height >= 1, width >= 1, (1...4).contains(channels) else {
            throw GraftError.invalidArgument(
                "n, height and width must be at least 1 and channels 1 to 4, not \(n), \(height), \(width), \(channels)")
        }
        let (h, w, c) = (Int(height), Int(width), Int(channels))
        let size = augmentation.outputSize(height: h, width: w)
        guard product(h, w, c, Int(n)) != nil, let outFloats = product(size.height, size.width, c, Int(n)) else {
            throw GraftError.invalidArgument("\(n) images of \(h)x\(w)x\(c) are more than memory can address")
        }
        guard Int64(outFloats) == outCount else {
            throw GraftError.invalidArgument(
                "out_count is \(outCount); \(n) images of \(size.height)x\(size.width)x\(c) need \(outFloats)")
        }
        augmentation.apply(images: images, count: Int(n), height: h, width: w, channels: c,
                           epoch: Int(truncatingIfNeeded: call), threads: Parallel.coreCount, into: out)
    }
}

/// The product of `factors`, or nil when it overflows.
private func product(_ factors: Int...) -> Int? {
    var result = 1
    for f in factors {
        let (next, overflow) = result.multipliedReportingOverflow(by: f)
        guard !overflow else { return nil }
        result = next
    }
    return result
}
