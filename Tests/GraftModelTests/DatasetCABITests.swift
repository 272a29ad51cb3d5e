import CGraftABI
import Foundation
import Testing

// The data pipeline's bad input through the C ABI: each refused call returns
// a status and a message naming the problem, leaves *out NULL, and nothing
// crashes; a dataset stays usable after a failed call.

private var lastError: String { String(cString: graft_last_error()) }

private func defaultOptions() -> graft_dataset_options {
    var o = graft_dataset_options()
    graft_dataset_options_init_sized(&o, MemoryLayout<graft_dataset_options>.size)
    o.image_height = 8
    o.image_width = 8
    o.batch_size = 2
    return o
}

/// A folder tree of small PNG images (one red pixel), removed afterwards.
private final class Tree {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("graft-cdata-\(UUID().uuidString)").path
    // A valid 1x1 RGB PNG.
    static let png: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
        0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
        0x00, 0x03, 0x01, 0x01, 0x00, 0xC9, 0xFE, 0x92, 0xEF, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
        0x44, 0xAE, 0x42, 0x60, 0x82,
    ]

    init(_ files: [String: [UInt8]]) throws {
        for (relative, bytes) in files {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

private func fromDirectory(_ root: String, _ o: graft_dataset_options) -> (graft_status, OpaquePointer?) {
    var o = o
    var handle: OpaquePointer? = OpaquePointer(bitPattern: 0xbad)
    let status = graft_dataset_from_directory(root, &o, &handle)
    return (status, handle)
}

@Test("bad folders and options are refused through the C ABI, naming the problem")
func directoryBadInput() throws {
    let good = try Tree(["a/1.png": Tree.png, "a/2.png": Tree.png, "b/3.PNG": Tree.png, "b/notes.txt": [1]])
    func refused(_ root: String, _ change: (inout graft_dataset_options) -> Void, _ status: graft_status,
                 _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var o = defaultOptions()
        change(&o)
        let (s, h) = fromDirectory(root, o)
        #expect(s == status && h == nil, "status \(s.rawValue): \(lastError)", sourceLocation: sourceLocation)
        #expect(lastError.contains(text), "\(lastError)", sourceLocation: sourceLocation)
    }
    refused("/no/such/folder", { _ in }, GRAFT_ERROR_IO, "/no/such/folder")
    let noClasses = try Tree(["loose.png": Tree.png])
    refused(noClasses.root, { _ in }, GRAFT_ERROR_INVALID_ARGUMENT, "no class folders")
    let noImages = try Tree(["a/readme.txt": [1], "b/data.csv": [2]])
    refused(noImages.root, { _ in }, GRAFT_ERROR_INVALID_ARGUMENT, "No images found in directory")
    let oneEmpty = try Tree(["a/1.png": Tree.png, "b/readme.txt": [1]])
    refused(oneEmpty.root, { _ in }, GRAFT_ERROR_INVALID_ARGUMENT, oneEmpty.root + "/b")
    refused(good.root, { $0.validation_split = 1.5; $0.subset = 1; $0.seed = 1 }, GRAFT_ERROR_INVALID_ARGUMENT, "between 0 and 1")
    refused(good.root, { $0.validation_split = -0.2; $0.subset = 1; $0.seed = 1 }, GRAFT_ERROR_INVALID_ARGUMENT, "between 0 and 1")
    refused(good.root, { $0.validation_split = .nan; $0.subset = 1; $0.seed = 1 }, GRAFT_ERROR_INVALID_ARGUMENT, "between 0 and 1")
    refused(good.root, { $0.validation_split = 0.5; $0.subset = 1 }, GRAFT_ERROR_INVALID_ARGUMENT, "seed")
    refused(good.root, { $0.subset = 2; $0.seed = 1 }, GRAFT_ERROR_INVALID_ARGUMENT, "`validation_split` must be set")
    refused(good.root, { $0.subset = 7 }, GRAFT_ERROR_INVALID_ARGUMENT, "subset")
    refused(good.root, { $0.shuffle = 5 }, GRAFT_ERROR_INVALID_ARGUMENT, "shuffle must be 0 or 1")
    refused(good.root, { $0.skip_corrupt_files = -1 }, GRAFT_ERROR_INVALID_ARGUMENT, "skip_corrupt_files must be 0 or 1")
    refused(good.root, { $0.class_names_count = 3 }, GRAFT_ERROR_INVALID_ARGUMENT,
            "class_names is NULL but options.class_names_count is 3")
    refused(good.root, { $0.image_height = 0 }, GRAFT_ERROR_INVALID_ARGUMENT, "image_size")
    refused(good.root, { $0.label_source = 9 }, GRAFT_ERROR_INVALID_ARGUMENT, "unknown label_source 9")
    refused(good.root, { $0.interpolation = 9 }, GRAFT_ERROR_INVALID_ARGUMENT, "unknown interpolation 9")
    refused(good.root, { $0.label_source = Int32(GRAFT_LABEL_SOURCE_LIST.rawValue) }, GRAFT_ERROR_INVALID_ARGUMENT,
            "options.label_list_count must be from 1")
    refused(good.root, { $0.label_source = Int32(GRAFT_LABEL_SOURCE_LIST.rawValue); $0.label_list_count = 3 },
            GRAFT_ERROR_INVALID_ARGUMENT, "options.label_list is NULL")
    let threeClasses = try Tree(["a/1.png": Tree.png, "b/2.png": Tree.png, "c/3.png": Tree.png])
    refused(threeClasses.root, { $0.label_mode = Int32(GRAFT_LABELS_BINARY.rawValue) }, GRAFT_ERROR_INVALID_ARGUMENT,
            "there must be exactly 2 class_names")
    // The caller's labels, one per image in Keras's file order.
    let given: [Int32] = [1, 0, 1]
    given.withUnsafeBufferPointer { labels in
        var o = defaultOptions()
        (o.shuffle, o.label_source, o.label_list, o.label_list_count) =
            (0, Int32(GRAFT_LABEL_SOURCE_LIST.rawValue), labels.baseAddress, 3)
        let (status, handle) = fromDirectory(good.root, o)
        #expect(status == GRAFT_OK, "\(lastError)")
        #expect(graft_dataset_class_count(handle) == 2 && (0..<3).map { graft_dataset_label(handle, $0) } == given)
        graft_dataset_free(handle)
    }

    refused(good.root, { $0.batch_size = 0 }, GRAFT_ERROR_INVALID_ARGUMENT, "batch_size")
    refused(good.root, { $0.seed = 1 << 40 }, GRAFT_ERROR_INVALID_ARGUMENT, "seed")
    refused(good.root, { $0.struct_size = 0 }, GRAFT_ERROR_INVALID_ARGUMENT, "graft_dataset_options_init")
    refused(good.root, { $0.max_image_pixels = 0 }, GRAFT_ERROR_INVALID_ARGUMENT, "max_image_pixels must be at least 1, not 0")

    var o = defaultOptions()
    var handle: OpaquePointer?
    #expect(graft_dataset_from_directory(nil, &o, &handle) == GRAFT_ERROR_INVALID_ARGUMENT && lastError.contains("directory"))
    #expect(graft_dataset_from_directory(good.root, nil, &handle) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_dataset_from_directory(good.root, &o, nil) == GRAFT_ERROR_INVALID_ARGUMENT)
    var (training, validation): (OpaquePointer?, OpaquePointer?) = (nil, nil)
    #expect(graft_dataset_from_directory_split(good.root, &o, &training, &validation) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(training == nil && validation == nil)

    // Non-image files are ignored; the listing is Keras's.
    let (status, dataset) = fromDirectory(good.root, o)
    try #require(status == GRAFT_OK, "\(lastError)")
    defer { graft_dataset_free(dataset) }
    #expect(graft_dataset_size(dataset) == 3 && graft_dataset_class_count(dataset) == 2)
    #expect(graft_dataset_batch_count(dataset) == 2)
    #expect(String(cString: graft_dataset_class_name(dataset, 1)!) == "b")
    #expect(graft_dataset_class_name(dataset, 2) == nil && graft_dataset_file_path(dataset, 3) == nil)
    #expect(graft_dataset_label(dataset, -1) >= 0 && graft_dataset_label(dataset, 99) == -1)
    #expect(graft_dataset_size(nil) == -1 && graft_dataset_class_name(nil, 0) == nil)
    graft_dataset_free(nil)
}

@Test("a corrupt, truncated or empty image fails the batch that reads it, naming the file; skip drops it")
func corruptImages() throws {
    let truncatedPNG = Array(Tree.png.prefix(40))
    let tree = try Tree(["a/good.png": Tree.png, "a/empty.png": [], "b/cut.png": truncatedPNG,
                         "b/fine.png": Tree.png, "b/text.jpg": Array("not a jpeg".utf8)])
    var o = defaultOptions()
    o.shuffle = 0
    o.batch_size = 5
    var images = [Float](repeating: 0, count: 5 * 8 * 8 * 3)
    var labels = [Int32](repeating: 0, count: 5)
    var count: Int64 = 0

    let (status, dataset) = fromDirectory(tree.root, o)
    try #require(status == GRAFT_OK, "\(lastError)")
    defer { graft_dataset_free(dataset) }
    #expect(graft_dataset_next_batch(dataset, &images, &labels, &count) == GRAFT_ERROR_STATE)
    #expect(graft_dataset_begin_epoch(dataset) == GRAFT_OK)
    let failed = graft_dataset_next_batch(dataset, &images, &labels, &count)
    #expect(failed == GRAFT_ERROR_FORMAT && count == 0, "\(lastError)")
    #expect(lastError.contains(tree.root + "/a/empty.png") || lastError.contains(tree.root + "/b/"), "\(lastError)")
    #expect(graft_dataset_next_batch(dataset, nil, &labels, &count) == GRAFT_ERROR_INVALID_ARGUMENT)

    o.skip_corrupt_files = 1
    let (skipStatus, skipping) = fromDirectory(tree.root, o)
    try #require(skipStatus == GRAFT_OK)
    defer { graft_dataset_free(skipping) }
    #expect(graft_dataset_begin_epoch(skipping) == GRAFT_OK)
    #expect(graft_dataset_next_batch(skipping, &images, &labels, &count) == GRAFT_OK, "\(lastError)")
    #expect(count == 2 && labels[0] == 0 && labels[1] == 1)
    #expect(images[0] == 255 && images[1] == 0 && images[2] == 0)
    #expect(graft_dataset_next_batch(skipping, &images, &labels, &count) == GRAFT_OK && count == 0)
}

@Test("a FIFO among the images fails its batch with an IO error at once; the pixel limit's default is PIL's")
func specialFilesThroughCABI() throws {
    let tree = try Tree(["a/good.png": Tree.png])
    let fifo = tree.root + "/a/pipe.png"
    #expect(mkfifo(fifo, 0o600) == 0)
    var o = defaultOptions()
    #expect(o.max_image_pixels == 89_478_485)
    o.shuffle = 0
    let (status, dataset) = fromDirectory(tree.root, o)
    try #require(status == GRAFT_OK, "\(lastError)")
    defer { graft_dataset_free(dataset) }
    var images = [Float](repeating: 0, count: 2 * 8 * 8 * 3)
    var labels = [Int32](repeating: 0, count: 2)
    var count: Int64 = 0
    #expect(graft_dataset_begin_epoch(dataset) == GRAFT_OK)
    #expect(graft_dataset_next_batch(dataset, &images, &labels, &count) == GRAFT_ERROR_IO && count == 0)
    #expect(lastError == fifo + ": is a FIFO, not a regular file", "\(lastError)")
}

@Test("color_mode through the C ABI: batches of 1 and 4 channels, the channel count, unknown modes and in-memory gray refused")
func colorModesThroughCABI() throws {
    let tree = try Tree(["a/red.png": Tree.png])
    var o = defaultOptions()
    #expect(o.color_mode == Int32(GRAFT_COLOR_MODE_RGB.rawValue))
    // The red pixel: gray is libpng's 0.299·255 (76 after rounding), RGBA's alpha opaque.
    for (mode, expected) in [(GRAFT_COLOR_MODE_GRAYSCALE, [Float(76)]), (GRAFT_COLOR_MODE_RGBA, [255, 0, 0, 255]),
                             (GRAFT_COLOR_MODE_RGB, [255, 0, 0])] {
        o.color_mode = Int32(mode.rawValue)
        let (status, dataset) = fromDirectory(tree.root, o)
        try #require(status == GRAFT_OK, "\(lastError)")
        defer { graft_dataset_free(dataset) }
        #expect(graft_dataset_channels(dataset) == Int32(expected.count))
        var images = [Float](repeating: -1, count: 2 * 8 * 8 * 4), labels: [Int32] = [0, 0], count: Int64 = 0
        #expect(graft_dataset_begin_epoch(dataset) == GRAFT_OK)
        #expect(graft_dataset_next_batch(dataset, &images, &labels, &count) == GRAFT_OK && count == 1, "\(lastError)")
        #expect(Array(images.prefix(expected.count)) == expected)
        // The batch is one image of 8x8 pixels of that many channels, nothing more.
        #expect(images[8 * 8 * expected.count - 1] == expected.last! && images[8 * 8 * expected.count] == -1)
    }
    #expect(graft_dataset_channels(nil) == -1)
    o.color_mode = 3
    let (unknown, none) = fromDirectory(tree.root, o)
    #expect(unknown == GRAFT_ERROR_INVALID_ARGUMENT && none == nil && lastError.contains("color_mode"))
    o.color_mode = Int32(GRAFT_COLOR_MODE_GRAYSCALE.rawValue)
    var memory: OpaquePointer?
    #expect(graft_dataset_from_memory([UInt8](repeating: 0, count: 12), [0], 1, 2, 2, 1, &o, &memory)
        == GRAFT_ERROR_INVALID_ARGUMENT && memory == nil && lastError.contains("in-memory images are RGB"))
}

@Test("in-memory datasets through the C ABI: copied, batched, bad arguments refused")
func memoryThroughCABI() throws {
    var o = defaultOptions()
    o.shuffle = 0
    let pixels = [UInt8](repeating: 9, count: 3 * 2 * 2 * 3)
    let labels: [Int32] = [0, 1, 1]
    var dataset: OpaquePointer?
    #expect(graft_dataset_from_memory(pixels, labels, 3, 2, 2, 2, &o, &dataset) == GRAFT_OK)
    defer { graft_dataset_free(dataset) }
    #expect(graft_dataset_file_path(dataset, 0) == nil && graft_dataset_size(dataset) == 3)
    var h: Int32 = 0, w: Int32 = 0
    #expect(graft_dataset_image_shape(dataset, &h, &w) == GRAFT_OK && (h, w) == (2, 2))

    var bad: OpaquePointer?
    #expect(graft_dataset_from_memory(nil, labels, 3, 2, 2, 2, &o, &bad) == GRAFT_ERROR_INVALID_ARGUMENT && bad == nil)
    #expect(graft_dataset_from_memory(pixels, nil, 3, 2, 2, 2, &o, &bad) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_dataset_from_memory(pixels, labels, 3, 2, 2, 2, nil, &bad) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("options") && bad == nil)
    #expect(graft_dataset_from_memory(pixels, labels, 0, 2, 2, 2, &o, &bad) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_dataset_from_memory(pixels, labels, 3, 0, 2, 2, &o, &bad) == GRAFT_ERROR_INVALID_ARGUMENT)
    #expect(graft_dataset_from_memory(pixels, labels, 3, 2, 2, 1, &o, &bad) == GRAFT_ERROR_INVALID_ARGUMENT
        && lastError.contains("label 1"))

    var images = [Float](repeating: 0, count: 2 * 2 * 2 * 3)
    var out = [Int32](repeating: -1, count: 2)
    var count: Int64 = 0
    #expect(graft_dataset_begin_epoch(dataset) == GRAFT_OK)
    #expect(graft_dataset_next_batch(dataset, &images, &out, &count) == GRAFT_OK && count == 2 && out == [0, 1])
    #expect(images.allSatisfy { $0 == 9 })
}
