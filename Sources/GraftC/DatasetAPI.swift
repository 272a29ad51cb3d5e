import CGraftABI
import Glibc
import GraftData
import GraftFoundation
import GraftKernels

/// What a graft_dataset handle points to: the dataset, the C strings handed
/// out for it, and its own pass. Calls on one handle run one at a time.
final class DatasetHandle {
    let dataset: ImageDataset
    let classNames: [UnsafeMutablePointer<CChar>]
    let filePaths: [UnsafeMutablePointer<CChar>]
    let mutex = Lock()
    var pass: IteratorHandle?

    init(_ dataset: ImageDataset) {
        self.dataset = dataset
        classNames = dataset.classNames.map { strdup($0)! }
        filePaths = dataset.filePaths.map { strdup($0)! }
    }

    deinit {
        classNames.forEach { free($0) }
        filePaths.forEach { free($0) }
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    static func from(_ pointer: OpaquePointer?) throws -> DatasetHandle {
        Unmanaged<DatasetHandle>.fromOpaque(UnsafeRawPointer(try required(pointer, "dataset"))).takeUnretainedValue()
    }

    static func borrowed(_ pointer: OpaquePointer?) -> DatasetHandle? {
        try? from(pointer)
    }
}

func defaultDatasetOptions() -> graft_dataset_options {
    let d = DatasetOptions()
    return graft_dataset_options(
        struct_size: MemoryLayout<graft_dataset_options>.size,
        image_height: Int32(d.imageHeight), image_width: Int32(d.imageWidth),
        batch_size: Int32(d.batchSize), shuffle: 1, seed: -1, validation_split: 0,
        subset: Int32(GRAFT_SUBSET_NONE.rawValue), label_mode: Int32(GRAFT_LABELS_INT.rawValue),
        class_names: nil, class_names_count: 0, crop_to_aspect_ratio: 0, follow_links: 0,
        skip_corrupt_files: 0, num_threads: 0, max_image_pixels: Int64(d.pixelLimit),
        label_source: Int32(GRAFT_LABEL_SOURCE_INFERRED.rawValue), label_list: nil, label_list_count: 0,
        pad_to_aspect_ratio: 0, interpolation: Int32(GRAFT_INTERPOLATION_BILINEAR.rawValue),
        color_mode: Int32(GRAFT_COLOR_MODE_RGB.rawValue))
}

@_cdecl("graft_dataset_options_init_sized")
public func graft_dataset_options_init_sized(_ options: UnsafeMutablePointer<graft_dataset_options>?,
                                             _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultDatasetOptions(), to: options, callerSize: structSize)
}

/// The Swift options a C options struct describes (NULL: the defaults).
func datasetOptions(_ pointer: UnsafePointer<graft_dataset_options>?) throws -> DatasetOptions {
    let c = try pointer.map {
        try readOptions($0, defaults: defaultDatasetOptions(), initFunction: "graft_dataset_options_init")
    } ?? defaultDatasetOptions()
    var o = DatasetOptions()
    o.imageHeight = Int(c.image_height)
    o.imageWidth = Int(c.image_width)
    o.batchSize = Int(c.batch_size)
    o.shuffle = try flag(c.shuffle, "options.shuffle")
    switch c.seed {
    case -1: o.seed = nil
    case 0...Int64(UInt32.max): o.seed = UInt32(c.seed)
    default: throw GraftError.invalidArgument("seed must be 0 to 4294967295, or -1 for none; received \(c.seed)")
    }
    guard c.validation_split.isFinite else {
        throw GraftError.invalidArgument("`validation_split` must be between 0 and 1, received: \(c.validation_split)")
    }
    o.validationSplit = c.validation_split == 0 ? nil : c.validation_split
    switch graft_subset(rawValue: UInt32(bitPattern: c.subset)) {
    case GRAFT_SUBSET_NONE: o.subset = nil
    case GRAFT_SUBSET_TRAINING: o.subset = .training
    case GRAFT_SUBSET_VALIDATION: o.subset = .validation
    default: throw GraftError.invalidArgument("unknown subset \(c.subset)")
    }
    switch graft_label_mode(rawValue: UInt32(bitPattern: c.label_mode)) {
    case GRAFT_LABELS_INT: o.labelMode = .int
    case GRAFT_LABELS_CATEGORICAL: o.labelMode = .categorical
    case GRAFT_LABELS_BINARY: o.labelMode = .binary
    default: throw GraftError.invalidArgument("unknown label_mode \(c.label_mode)")
    }
    switch graft_label_source(rawValue: UInt32(bitPattern: c.label_source)) {
    case GRAFT_LABEL_SOURCE_INFERRED: o.labels = .inferred
    case GRAFT_LABEL_SOURCE_NONE: o.labels = .none
    case GRAFT_LABEL_SOURCE_LIST:
        // One label per image: a count no folder reaches is refused before anything is copied.
        guard c.label_list_count >= 1 && c.label_list_count <= 1 << 28 else {
            throw GraftError.invalidArgument(
                "options.label_list_count must be from 1 to 268435456 (a label per image), not \(c.label_list_count)")
        }
        let list = try required(c.label_list, "options.label_list")
        o.labels = .list(Array(UnsafeBufferPointer(start: list, count: Int(c.label_list_count))))
    default: throw GraftError.invalidArgument("unknown label_source \(c.label_source)")
    }
    let names = try array(c.class_names, count: c.class_names_count, "options.class_names")
    if c.class_names != nil {
        guard !names.isEmpty else {
            throw GraftError.invalidArgument("options.class_names_count must be at least 1 with class_names, not \(c.class_names_count)")
        }
        o.classNames = try names.enumerated().map { i, name in
            try string(try required(name, "options.class_names[\(i)]"), "options.class_names[\(i)]")
        }
    }
    o.cropToAspectRatio = try flag(c.crop_to_aspect_ratio, "options.crop_to_aspect_ratio")
    o.padToAspectRatio = try flag(c.pad_to_aspect_ratio, "options.pad_to_aspect_ratio")
    switch graft_interpolation(rawValue: UInt32(bitPattern: c.interpolation)) {
    case GRAFT_INTERPOLATION_BILINEAR: o.interpolation = .bilinear
    case GRAFT_INTERPOLATION_NEAREST: o.interpolation = .nearest
    case GRAFT_INTERPOLATION_AREA: o.interpolation = .area
    case GRAFT_INTERPOLATION_BICUBIC: o.interpolation = .bicubic
    case GRAFT_INTERPOLATION_LANCZOS3: o.interpolation = .lanczos3
    case GRAFT_INTERPOLATION_LANCZOS5: o.interpolation = .lanczos5
    case GRAFT_INTERPOLATION_GAUSSIAN: o.interpolation = .gaussian
    case GRAFT_INTERPOLATION_MITCHELLCUBIC: o.interpolation = .mitchellcubic
    default: throw GraftError.invalidArgument("unknown interpolation \(c.interpolation)")
    }
    switch graft_color_mode(rawValue: UInt32(bitPattern: c.color_mode)) {
    case GRAFT_COLOR_MODE_RGB: o.colorMode = .rgb
    case GRAFT_COLOR_MODE_GRAYSCALE: o.colorMode = .grayscale
    case GRAFT_COLOR_MODE_RGBA: o.colorMode = .rgba
    default: throw GraftError.invalidArgument("unknown color_mode \(c.color_mode)")
    }
    o.followLinks = try flag(c.follow_links, "options.follow_links")
    o.skipCorruptFiles = try flag(c.skip_corrupt_files, "options.skip_corrupt_files")
    o.threads = Int(c.num_threads)
    o.pixelLimit = Int(c.max_image_pixels)
    return o
}

@_cdecl("graft_dataset_from_directory")
public func graft_dataset_from_directory(_ directory: UnsafePointer<CChar>?,
                                         _ options: UnsafePointer<graft_dataset_options>?,
                                         _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        let directory = try string(try required(directory, "directory"), "directory")
        let o = try datasetOptions(try required(options, "options"))
        out.pointee = DatasetHandle(try ImageDataset.fromDirectory(directory, options: o)).opaque
    }
}

@_cdecl("graft_dataset_from_directory_split")
public func graft_dataset_from_directory_split(_ directory: UnsafePointer<CChar>?,
                                               _ options: UnsafePointer<graft_dataset_options>?,
                                               _ training: UnsafeMutablePointer<OpaquePointer?>?,
                                               _ validation: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    training?.pointee = nil
    validation?.pointee = nil
    return catchingErrors {
        let (trainingOut, validationOut) = (try required(training, "training"), try required(validation, "validation"))
        let directory = try string(try required(directory, "directory"), "directory")
        var o = try datasetOptions(try required(options, "options"))
        o.subset = nil
        let split = try ImageDataset.fromDirectorySplit(directory, options: o)
        trainingOut.pointee = DatasetHandle(split.training).opaque
        validationOut.pointee = DatasetHandle(split.validation).opaque
    }
}

/// Both in-memory constructors: exactly one of `bytes` and `floats` is set.
private func datasetFromMemory(bytes: UnsafePointer<UInt8>?, floats: UnsafePointer<Float>?,
                               labels: UnsafePointer<Int32>?, count: Int64, height: Int32, width: Int32,
                               classCount: Int32, options: UnsafePointer<graft_dataset_options>?,
                               out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        guard bytes != nil || floats != nil else { throw GraftError.invalidArgument("rgb_nhwc is NULL") }
        guard height >= 1 && width >= 1 && height <= 16384 && width <= 16384 else {
            throw GraftError.invalidArgument("image size must be 1 to 16384 on each side, not \(height)x\(width)")
        }
        let dataset = try ImageDataset.fromMemory(
            bytes: bytes, floats: floats, labels: try required(labels, "labels"), count: Int(count),
            height: Int(height), width: Int(width), classCount: Int(classCount),
            options: try datasetOptions(try required(options, "options")))
        out.pointee = DatasetHandle(dataset).opaque
    }
}

@_cdecl("graft_dataset_from_memory")
public func graft_dataset_from_memory(_ rgb: UnsafePointer<UInt8>?, _ labels: UnsafePointer<Int32>?, _ count: Int64,
                                      _ height: Int32, _ width: Int32, _ classCount: Int32,
                                      _ options: UnsafePointer<graft_dataset_options>?,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    datasetFromMemory(bytes: rgb, floats: nil, labels: labels, count: count, height: height, width: width,
                      classCount: classCount, options: options, out: out)
}

@_cdecl("graft_dataset_from_memory_float")
public func graft_dataset_from_memory_float(_ rgb: UnsafePointer<Float>?, _ labels: UnsafePointer<Int32>?,
                                            _ count: Int64, _ height: Int32, _ width: Int32, _ classCount: Int32,
                                            _ options: UnsafePointer<graft_dataset_options>?,
                                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> graft_status {
    datasetFromMemory(bytes: nil, floats: rgb, labels: labels, count: count, height: height, width: width,
                      classCount: classCount, options: options, out: out)
}

@_cdecl("graft_dataset_free")
public func graft_dataset_free(_ dataset: OpaquePointer?) {
    guard let dataset else { return }
    Unmanaged<DatasetHandle>.fromOpaque(UnsafeRawPointer(dataset)).release()
}

@_cdecl("graft_dataset_size")
public func graft_dataset_size(_ dataset: OpaquePointer?) -> Int64 {
    DatasetHandle.borrowed(dataset).map { Int64($0.dataset.count) } ?? -1
}

@_cdecl("graft_dataset_batch_count")
public func graft_dataset_batch_count(_ dataset: OpaquePointer?) -> Int64 {
    DatasetHandle.borrowed(dataset).map { Int64($0.dataset.batchCount) } ?? -1
}

@_cdecl("graft_dataset_class_count")
public func graft_dataset_class_count(_ dataset: OpaquePointer?) -> Int32 {
    DatasetHandle.borrowed(dataset).map { Int32($0.classNames.count) } ?? -1
}

/// Element `index` of `items`, negative indices counting from the end.
func element<T>(_ items: [T], _ index: Int) -> T? {
    let i = index < 0 ? items.count + index : index
    return i >= 0 && i < items.count ? items[i] : nil
}

@_cdecl("graft_dataset_class_name")
public func graft_dataset_class_name(_ dataset: OpaquePointer?, _ index: Int32) -> UnsafePointer<CChar>? {
    DatasetHandle.borrowed(dataset).flatMap { element($0.classNames, Int(index)) }.map { UnsafePointer($0) }
}

@_cdecl("graft_dataset_file_path")
public func graft_dataset_file_path(_ dataset: OpaquePointer?, _ index: Int64) -> UnsafePointer<CChar>? {
    DatasetHandle.borrowed(dataset).flatMap { element($0.filePaths, Int(index)) }.map { UnsafePointer($0) }
}

@_cdecl("graft_dataset_label")
public func graft_dataset_label(_ dataset: OpaquePointer?, _ index: Int64) -> Int32 {
    DatasetHandle.borrowed(dataset).flatMap { element($0.dataset.labels, Int(index)) } ?? -1
}

@_cdecl("graft_dataset_image_shape")
public func graft_dataset_image_shape(_ dataset: OpaquePointer?, _ height: UnsafeMutablePointer<Int32>?,
                                      _ width: UnsafeMutablePointer<Int32>?) -> graft_status {
    catchingErrors {
        let d = try DatasetHandle.from(dataset).dataset
        let (h, w) = (try required(height, "height"), try required(width, "width"))
        h.pointee = Int32(d.imageHeight)
        w.pointee = Int32(d.imageWidth)
    }
}

@_cdecl("graft_dataset_channels")
public func graft_dataset_channels(_ dataset: OpaquePointer?) -> Int32 {
    guard let d = try? DatasetHandle.from(dataset).dataset else { return -1 }
    return Int32(d.colorMode.channels)
}

@_cdecl("graft_dataset_begin_epoch")
public func graft_dataset_begin_epoch(_ dataset: OpaquePointer?) -> graft_status {
    catchingErrors {
        let handle = try DatasetHandle.from(dataset)
        handle.mutex.withLock {
            handle.pass = nil
            handle.pass = IteratorHandle(handle.dataset.makeIterator())
        }
    }
}

@_cdecl("graft_dataset_next_batch")
public func graft_dataset_next_batch(_ dataset: OpaquePointer?, _ images: UnsafeMutablePointer<Float>?,
                                     _ labels: UnsafeMutablePointer<Int32>?,
                                     _ count: UnsafeMutablePointer<Int64>?) -> graft_status {
    count?.pointee = 0
    return catchingErrors {
        let handle = try DatasetHandle.from(dataset)
        let output = try BatchOutput(images, labels, count)
        try handle.mutex.withLock {
            guard let pass = handle.pass else {
                throw GraftError(.state, "no pass in progress: call graft_dataset_begin_epoch first")
            }
            try pass.next(into: output)
        }
    }
}

/// Where a batch is written for the caller: its images, labels and count.
struct BatchOutput {
    let images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>, count: UnsafeMutablePointer<Int64>

    init(_ images: UnsafeMutablePointer<Float>?, _ labels: UnsafeMutablePointer<Int32>?,
         _ count: UnsafeMutablePointer<Int64>?) throws {
        (self.images, self.labels, self.count) = (try required(images, "images"), try required(labels, "labels"),
                                                  try required(count, "count"))
    }
}

/// One pass, handed out as a graft_dataset_iterator or kept as a dataset's
/// own; it holds its dataset. Calls on one pass run one at a time.
final class IteratorHandle {
    private let pass: BatchIterator
    private let mutex = Lock()
    /// Set when the pass ended or failed: every later call gives 0 images.
    private var finished = false

    init(_ pass: BatchIterator) { self.pass = pass }

    /// Copies the next batch out, or a count of 0 once the pass is over.
    func next(into output: BatchOutput) throws {
        try mutex.withLock {
            guard !finished else { return }
            do {
                guard let batch = try pass.next() else {
                    finished = true
                    return
                }
                output.images.update(from: batch.images, count: batch.count * pass.dataset.imageFloats)
                for (i, label) in batch.labels.enumerated() { output.labels[i] = label }
                output.count.pointee = Int64(batch.count)
            } catch {
                finished = true
                throw error
            }
        }
    }
}

@_cdecl("graft_dataset_iterate")
public func graft_dataset_iterate(_ dataset: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?)
    -> graft_status {
    out?.pointee = nil
    return catchingErrors {
        let out = try required(out, "out")
        let handle = try DatasetHandle.from(dataset)
        let iterator = IteratorHandle(handle.dataset.makeIterator())
        out.pointee = OpaquePointer(Unmanaged.passRetained(iterator).toOpaque())
    }
}

@_cdecl("graft_dataset_iterator_next")
public func graft_dataset_iterator_next(_ iterator: OpaquePointer?, _ images: UnsafeMutablePointer<Float>?,
                                        _ labels: UnsafeMutablePointer<Int32>?,
                                        _ count: UnsafeMutablePointer<Int64>?) -> graft_status {
    count?.pointee = 0
    return catchingErrors {
        let pointer = try required(iterator, "iterator")
        let output = try BatchOutput(images, labels, count)
        try Unmanaged<IteratorHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue().next(into: output)
    }
}

@_cdecl("graft_dataset_iterator_free")
public func graft_dataset_iterator_free(_ iterator: OpaquePointer?) {
    guard let iterator else { return }
    Unmanaged<IteratorHandle>.fromOpaque(UnsafeRawPointer(iterator)).release()
}
