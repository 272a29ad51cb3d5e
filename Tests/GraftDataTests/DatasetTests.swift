import Foundation
import GraftData
import GraftFoundation
import GraftKernels
import Testing

/// A scratch folder tree, removed when the test ends.
final class ScratchTree {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("graft-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func file(_ relative: String, _ contents: [UInt8] = [0]) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(contents).write(to: URL(fileURLWithPath: path))
    }

    func folder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + relative, withIntermediateDirectories: true)
    }
}

private func memoryDataset(count: Int, batchSize: Int, shuffle: Bool, seed: UInt32? = 7) throws -> ImageDataset {
    var options = DatasetOptions()
    options.batchSize = batchSize
    options.shuffle = shuffle
    options.seed = seed
    // Image i is filled with the value i, so a batch shows which images it holds.
    let pixels = (0..<count).flatMap { [UInt8](repeating: UInt8($0), count: 2 * 3 * 3) }
    let labels = (0..<count).map { Int32($0 % 3) }
    return try ImageDataset.fromMemory(bytes: pixels, floats: nil, labels: labels, count: count,
                                       height: 2, width: 3, classCount: 3, options: options)
}

/// The image indices of every batch of one pass, checked against the pixels.
private func pass(_ dataset: ImageDataset) throws -> [[Int]] {
    let iterator = dataset.makeIterator()
    var batches: [[Int]] = []
    while let batch = try iterator.next() {
        for (i, index) in batch.indices.enumerated() {
            #expect(batch.images[i * 18] == Float(index) && batch.images[i * 18 + 17] == Float(index))
            #expect(batch.labels[i] == Int32(index % 3))
        }
        batches.append(batch.indices)
    }
    return batches
}

@Test("batches: listing order without shuffle, the last batch partial")
func batchesInOrder() throws {
    let dataset = try memoryDataset(count: 10, batchSize: 4, shuffle: false)
    #expect(dataset.batchCount == 3)
    #expect(try pass(dataset) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
    #expect(try pass(dataset) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
}

@Test("shuffle: a new order each epoch, every image once, the same for the same seed")
func shuffledEpochs() throws {
    let a = try memoryDataset(count: 50, batchSize: 8, shuffle: true, seed: 3)
    let b = try memoryDataset(count: 50, batchSize: 8, shuffle: true, seed: 3)
    let c = try memoryDataset(count: 50, batchSize: 8, shuffle: true, seed: 4)
    let (a1, a2) = (try pass(a).flatMap { $0 }, try pass(a).flatMap { $0 })
    #expect(a1.sorted() == Array(0..<50) && a2.sorted() == Array(0..<50))
    #expect(a1 != a2 && a1 != Array(0..<50))
    #expect(try pass(b).flatMap { $0 } == a1)
    #expect(try pass(c).flatMap { $0 } != a1)
}

@Test("in-memory float images pass unchanged; bad labels and sizes are refused")
func memoryDatasets() throws {
    var options = DatasetOptions()
    options.shuffle = false
    let floats: [Float] = (0..<(2 * 2 * 2 * 3)).map { Float($0) * 0.5 }
    let dataset = try ImageDataset.fromMemory(bytes: nil, floats: floats, labels: [1, 0], count: 2, height: 2,
                                              width: 2, classCount: 2, options: options)
    let batch = try #require(try dataset.makeIterator().next())
    #expect(Array(UnsafeBufferPointer(start: batch.images, count: floats.count)) == floats)
    #expect(dataset.classNames == ["0", "1"])

    for (labels, classCount) in [([2, 0], 2), ([-1, 0], 2), ([0, 0], 0)] as [([Int32], Int)] {
        #expect(throws: GraftError.self) {
            try ImageDataset.fromMemory(bytes: nil, floats: floats, labels: labels, count: 2, height: 2, width: 2,
                                        classCount: classCount, options: options)
        }
    }
    #expect(throws: GraftError.self) {
        try ImageDataset.fromMemory(bytes: nil, floats: floats, labels: [0], count: 0, height: 2, width: 2,
                                    classCount: 1, options: options)
    }
}

@Test("Keras's argument checks: split range, seed, subset, sizes")
func argumentChecks() throws {
    let tree = try ScratchTree()
    try tree.file("a/x.png")
    try tree.file("b/y.png")
    func refused(_ change: (inout DatasetOptions) -> Void, mentioning text: String) {
        var options = DatasetOptions()
        change(&options)
        do {
            _ = try ImageDataset.fromDirectory(tree.root, options: options)
            Issue.record("accepted: expected an error mentioning \(text)")
        } catch let error as GraftError {
            #expect(error.kind == .invalidArgument && error.message.contains(text), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }
    refused({ $0.validationSplit = 0; $0.subset = .training; $0.seed = 1 }, mentioning: "between 0 and 1")
    refused({ $0.validationSplit = 1; $0.subset = .training; $0.seed = 1 }, mentioning: "between 0 and 1")
    refused({ $0.validationSplit = 0.2; $0.subset = .training }, mentioning: "seed")
    refused({ $0.subset = .training; $0.seed = 1 }, mentioning: "`validation_split` must be set")
    refused({ $0.validationSplit = 0.2; $0.seed = 1 }, mentioning: "`validation_split` must be set")
    refused({ $0.imageHeight = 0 }, mentioning: "image_size")
    refused({ $0.batchSize = 0 }, mentioning: "batch_size")
    refused({ $0.validationSplit = 0.1; $0.subset = .training; $0.seed = 1 }, mentioning: "both need at least one")
}

@Test("folders without classes or images are refused with the folder named")
func badFolders() throws {
    #expect(throws: GraftError.io("directory not found: /no/such/folder")) {
        try DirectoryListing.list(directory: "/no/such/folder")
    }
    let empty = try ScratchTree()
    #expect(throws: GraftError.self) { try DirectoryListing.list(directory: empty.root) }
    try empty.file("loose.png")
    try empty.folder(".hidden")
    #expect(throws: GraftError.self) { try DirectoryListing.list(directory: empty.root) }

    let tree = try ScratchTree()
    try tree.file("cats/a.png")
    try tree.file("dogs/notes.txt")
    do {
        _ = try DirectoryListing.list(directory: tree.root)
        Issue.record("a class folder without images was accepted")
    } catch let error as GraftError {
        #expect(error.message.contains(tree.root + "/dogs"))
    }
    #expect(throws: GraftError.self) { try DirectoryListing.list(directory: tree.root, classNames: ["cats", "birds"]) }
}

@Test("RandomFlip: independent axes give four variants; flips reverse the right axis")
func randomFlip() throws {
    let flip = Augmentation(layers: [.flip(.horizontalAndVertical)], seed: 11)
    let variants = Set((0..<400).map { flip.flipVariant(epoch: 0, index: $0)! })
    #expect(variants.count == 4)
    #expect(flip.flipVariant(epoch: 3, index: 5)
        == Augmentation(layers: [.flip(.horizontalAndVertical)], seed: 11).flipVariant(epoch: 3, index: 5))
    let horizontalOnly = Augmentation(layers: [.flip(.horizontal)], seed: 11)
    #expect((0..<100).allSatisfy { !horizontalOnly.flipVariant(epoch: 1, index: $0)!.vertical })
    #expect(Set((0..<100).map { horizontalOnly.flipVariant(epoch: 1, index: $0)! }).count == 2)

    // A 2x3 image with one channel: values 0...5, row-major.
    var image: [Float] = [0, 1, 2, 3, 4, 5]
    RandomFlip.apply(.init(horizontal: true, vertical: false), to: &image, height: 2, width: 3, channels: 1)
    #expect(image == [2, 1, 0, 5, 4, 3])
    RandomFlip.apply(.init(horizontal: false, vertical: true), to: &image, height: 2, width: 3, channels: 1)
    #expect(image == [5, 4, 3, 2, 1, 0])
}

@Test("a pass skips decoding the images its caller says it does not need")
func skippedImagesAreNotDecoded() throws {
    // Every file is unreadable: decoding any of them fails the batch.
    let tree = try ScratchTree()
    for name in ["a/0.png", "a/1.png", "b/2.png", "b/3.png"] { try tree.file(name, Array("not an image".utf8)) }
    var options = DatasetOptions()
    (options.imageHeight, options.imageWidth, options.batchSize, options.shuffle) = (4, 4, 2, false)
    let dataset = try ImageDataset.fromDirectory(tree.root, options: options)
    #expect(throws: GraftError.self) { _ = try dataset.makeIterator().next() }
    // Skipping them all: every batch comes, with indices and labels, and no decoding.
    let iterator = dataset.makeIterator(skip: { _ in true })
    var seen: [Int] = []
    while let batch = try iterator.next() {
        seen += batch.indices
        #expect(batch.labels == batch.indices.map { $0 < 2 ? 0 : 1 })
    }
    #expect(seen == [0, 1, 2, 3])
    // Skipping all but one: that one is decoded, and fails.
    let partly = dataset.makeIterator(skip: { $0 != 3 })
    #expect(try partly.next() != nil)
    #expect(throws: GraftError.self) { _ = try partly.next() }
}

@Test("a class folder or an image whose name is not UTF-8 is refused at listing, naming it; other such files are left out")
func undecodableNamesAreRefused() throws {
    /// Creates `root/<prefix><0xE9><suffix>` (Latin-1 é: not UTF-8), a folder or an empty file.
    func make(_ root: String, _ prefix: String, _ suffix: String, folder: Bool) {
        let path = Array((root + "/" + prefix).utf8).map { CChar(bitPattern: $0) } + [CChar(bitPattern: 0xE9)]
            + Array(suffix.utf8).map { CChar(bitPattern: $0) } + [0]
        if folder {
            #expect(mkdir(path, 0o700) == 0)
        } else {
            let fd = open(path, O_CREAT | O_WRONLY, 0o600)
            #expect(fd >= 0)
            close(fd)
        }
    }
    // Keras raises on such a class folder; Graft once dropped it silently.
    let classes = try ScratchTree()
    try classes.file("cats/a.png")
    make(classes.root, "caf", "", folder: true)
    #expect(throws: GraftError.invalidArgument(
        "\(classes.root) holds a folder whose name is not valid UTF-8 (caf\\xe9): image_dataset_from_directory needs UTF-8 names, as Keras does")) {
        try DirectoryListing.list(directory: classes.root)
    }
    // An image with such a name was listed, then failed at iteration.
    let images = try ScratchTree()
    try images.file("cats/a.png")
    make(images.root, "cats/caf", ".png", folder: false)
    #expect(throws: GraftError.invalidArgument(
        "\(images.root)/cats holds a file whose name is not valid UTF-8 (caf\\xe9.png): image_dataset_from_directory needs UTF-8 names, as Keras does")) {
        try DirectoryListing.list(directory: images.root)
    }
    // Not an image, not a folder: nothing the listing uses.
    let stray = try ScratchTree()
    try stray.file("cats/a.png")
    make(stray.root, "cats/notes-", ".txt", folder: false)
    make(stray.root, "", ".txt", folder: false)
    let listing = try DirectoryListing.list(directory: stray.root)
    #expect(listing.filePaths == [stray.root + "/cats/a.png"])
}

@Test("labels=None and labels=[...] list every image under the folder; binary needs two classes")
func labelSources() throws {
    let tree = try ScratchTree()
    for name in ["a/1.png", "a/deep/2.png", "b/3.png", "loose.png"] { try tree.file(name) }
    var options = DatasetOptions()
    options.shuffle = false
    options.labels = .none
    let unlabelled = try ImageDataset.fromDirectory(tree.root, options: options)
    #expect(!unlabelled.hasLabels && unlabelled.classNames.isEmpty)
    // Keras walks the folders sorted by path, the folder's own files first.
    #expect(unlabelled.filePaths == ["loose.png", "a/1.png", "a/deep/2.png", "b/3.png"].map { tree.root + "/" + $0 })

    options.labels = .list([1, 0, 1, 0])
    let listed = try ImageDataset.fromDirectory(tree.root, options: options)
    #expect(listed.classNames == ["0", "1"] && listed.labels == [1, 0, 1, 0] && listed.filePaths == unlabelled.filePaths)

    func refused(_ change: (inout DatasetOptions) -> Void, mentioning text: String) {
        var o = DatasetOptions()
        change(&o)
        #expect(throws: GraftError.self) { _ = try ImageDataset.fromDirectory(tree.root, options: o) }
        do { _ = try ImageDataset.fromDirectory(tree.root, options: o) } catch let error as GraftError {
            #expect(error.kind == .invalidArgument && error.message.contains(text), "\(error.message)")
        } catch { Issue.record("\(error)") }
    }
    refused({ $0.labels = .list([0, 1]) }, mentioning: "len(labels) is 2 while we found 4 files")
    refused({ $0.labels = .list([0, 2, 2, 0]) }, mentioning: "0, 1, ..., k-1")
    refused({ $0.labels = .none; $0.classNames = ["a"] }, mentioning: "only pass `class_names`")
    refused({ $0.labelMode = .binary; $0.classNames = ["a"] }, mentioning: "there must be exactly 2 class_names. Received: class_names=['a']")
    refused({ $0.classNames = ["a", "c"] }, mentioning: "Expected: ['a', 'b'] (or a subset of it), but received: class_names=['a', 'c']")

    let empty = try ScratchTree()
    try empty.folder("a")
    try empty.file("b/readme.txt")
    #expect(throws: GraftError.invalidArgument(
        "No images found in directory \(empty.root). Allowed formats: ('.bmp', '.gif', '.jpeg', '.jpg', '.png')")) {
        _ = try ImageDataset.fromDirectory(empty.root, options: DatasetOptions())
    }
}

@Test("nearest, area and bicubic resizes pick, average and weigh as TensorFlow's do")
func nearestAndAreaResize() {
    // One row of four grey pixels, 0, 10, 20, 30.
    let pixels: [UInt8] = [0, 10, 20, 30].flatMap { [$0, $0, $0] }
    func resized(_ method: Interpolation, to width: Int) -> [Float] {
        var out = [Float](repeating: -1, count: width * 3)
        method.resize(pixels, height: 1, width: 4, channels: 3, region: .whole(height: 1, width: 4), outHeight: 1,
                      outWidth: width, into: &out)
        return stride(from: 0, to: out.count, by: 3).map { out[$0] }
    }
    // Bicubic: the same size is the identity (Keys's weights 0, 1, 0, 0).
    #expect(resized(.bicubic, to: 4) == [0, 10, 20, 30])
    // Centres at 1 and 3 of the input: pixels 1 and 3.
    #expect(resized(.nearest, to: 2) == [10, 30])
    #expect(resized(.area, to: 2) == [5, 25])
    // 4 to 3 (s = 4/3): the cells [0, 4/3), [4/3, 8/3), [8/3, 4), each the
    // covered parts' mean; to float32 rounding of TensorFlow's sums.
    let area = resized(.area, to: 3)
    for (value, expected) in zip(area, [(0 * 1 + 10 * 1 / 3.0) * 0.75, (10 * 2 / 3.0 + 20 * 2 / 3.0) * 0.75,
                                        (20 / 3.0 + 30) * 0.75]) {
        #expect(abs(Double(value) - expected) < 1e-4)
    }
}

@Test("shards: each process gets its contiguous part of every batch, the parts disjoint and covering each batch, in the whole batch's order; an empty part still counts")
func shardsOfEveryBatch() throws {
    // 3 processes, batches of 8 over 19 images: the last batch holds 3
    // (one each); batch size 2 leaves process 0 nothing in some batches.
    for (count, batchSize) in [(19, 8), (5, 2)] {
        let dataset = try memoryDataset(count: count, batchSize: batchSize, shuffle: true)
        let whole = dataset.makeIterator(epoch: 4)
        var wholeBatches: [[Int]] = []
        while let batch = try whole.next() { wholeBatches.append(batch.indices) }
        var parts: [[[Int]]] = []
        for rank in 0..<3 {
            let iterator = dataset.makeIterator(epoch: 4, shard: DataShard(rank: rank, size: 3))
            var mine: [[Int]] = []
            while let batch = try iterator.next() {
                for (i, index) in batch.indices.enumerated() {
                    #expect(batch.images[i * 18] == Float(index) && batch.labels[i] == Int32(index % 3))
                }
                #expect(batch.position == DataShard(rank: rank, size: 3).range(of: wholeBatches[mine.count].count).lowerBound)
                mine.append(batch.indices)
            }
            parts.append(mine)
        }
        for (b, batch) in wholeBatches.enumerated() {
            #expect(parts.map { $0[b] }.joined().elementsEqual(batch), "batch \(b)")
        }
        #expect(Set(parts.joined().joined()).count == count)
    }
    #expect(DataShard(rank: 1, size: 2).range(of: 3) == 1..<3)
    #expect(DataShard(rank: 0, size: 2).range(of: 1) == 0..<0)
}
