import Foundation
import GraftData
import GraftFoundation
import Testing

// The augmentation list as the training pipeline uses it: its text form,
// the flips' variants the feature cache is keyed by, and its application on
// the loading threads.

@Test("AugmentationSpec: the command's text gives Keras's layers and reads back what it writes")
func augmentationSpecRoundTrip() throws {
    let layers = try AugmentationSpec.parse("flip:horizontal,rotation:0.1,zoom:0.2")
    #expect(layers == [.flip(.horizontal), .rotation(try RandomRotation(factor: .number(0.1))),
                       .zoom(try RandomZoom(heightFactor: .number(0.2)))])
    let everything = """
        flip,rotation:-0.05..0.1:fill_mode=constant:fill_value=128:interpolation=nearest,\
        zoom:0.2:0.3:fill_mode=wrap,translation:height_factor=0.1:width_factor=-0.2..0.2,crop:20:30,\
        contrast:0.5:value_range=0.0..1.0,brightness:0.2
        """
    let parsed = try AugmentationSpec.parse(everything)
    #expect(parsed.count == 7)
    #expect(parsed[0] == .flip(.horizontalAndVertical))  // Keras's default mode
    #expect(parsed[1] == .rotation(try RandomRotation(factor: .pair(-0.05, 0.1), fillMode: .constant,
                                                      interpolation: .nearest, fillValue: 128)))
    #expect(parsed[2] == .zoom(try RandomZoom(heightFactor: .number(0.2), widthFactor: .number(0.3), fillMode: .wrap)))
    #expect(parsed[5] == .contrast(try RandomContrast(factor: .number(0.5), valueRange: (0, 1))))
    #expect(try AugmentationSpec.parse(AugmentationSpec.text(parsed)) == parsed)
    // The older forms: nothing, or a flip mode alone.
    #expect(try AugmentationSpec.parse("none").isEmpty)
    #expect(AugmentationSpec.text([]) == "none")
    #expect(try AugmentationSpec.parse("horizontal_and_vertical") == [.flip(.horizontalAndVertical)])
}

@Test("AugmentationSpec: a bad text is refused with a message naming what is wrong")
func augmentationSpecErrors() {
    func message(_ text: String) -> String {
        do {
            _ = try AugmentationSpec.parse(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }
    #expect(message("spin:0.1").contains("unknown augmentation layer \"spin\""))
    #expect(message("rotation").contains("rotation needs its factor"))
    #expect(message("rotation:abc").contains("must be a finite number"))
    #expect(message("rotation:0.1:0.2").contains("at most 1 unnamed"))
    #expect(message("rotation:0.1:colour=red").contains("no argument \"colour\""))
    #expect(message("rotation:0.1:fill_mode=mirror").contains("fill_mode must be"))
    #expect(message("zoom:1.5").contains("height_factor"))  // Keras's own range check
    #expect(message("flip:diagonal").contains("flip's mode"))
    #expect(message("flip:horizontal,").contains("unknown augmentation layer \"\""))
    #expect(message(Array(repeating: "flip", count: 1025).joined(separator: ",")).contains("at most 1024"))
}

@Test("Flips alone have finitely many outcomes, composed across layers; other layers do not")
func flipVariantsCompose() throws {
    let both = Augmentation(layers: [.flip(.horizontal), .flip(.vertical)], seed: 3)
    #expect(both.hasFiniteOutcomes)
    #expect(Set((0..<200).map { both.flipVariant(epoch: 0, index: $0)! }).count == 4)
    // Two flips of one axis cancel when both draw a flip.
    let twice = Augmentation(layers: [.flip(.horizontal), .flip(.horizontal)], seed: 3)
    let once = Augmentation(layers: [.flip(.horizontal)], seed: 3)
    #expect((0..<200).contains { twice.flipVariant(epoch: 0, index: $0) != once.flipVariant(epoch: 0, index: $0) })
    let rotating = Augmentation(layers: [.flip(.horizontal), .rotation(try RandomRotation(factor: .number(0.1)))], seed: 3)
    #expect(!rotating.hasFiniteOutcomes)
    #expect(rotating.flipVariant(epoch: 0, index: 0) == nil)

    // The variant is what applying the layers does to the image.
    let (h, w) = (3, 4)
    let image = (0..<(h * w * 3)).map { Float($0) }
    for index in 0..<16 {
        var applied = image
        applied.withUnsafeMutableBufferPointer {
            both.apply(inPlace: $0.baseAddress!, height: h, width: w, channels: 3, scratch: AugmentationScratch(),
                       epoch: 2, index: index)
        }
        var flipped = image
        RandomFlip.apply(both.flipVariant(epoch: 2, index: index)!, to: &flipped, height: h, width: w, channels: 3)
        #expect(applied == flipped)
    }
}

@Test("The pipeline augments each image on its loading thread with the draws of its index and pass")
func pipelineAugments() throws {
    let (count, size) = (12, 16)
    var pixels = [UInt8](repeating: 0, count: count * size * size * 3)
    var random = SplitMix64(seed: 9)
    for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: random.next()) }
    func dataset(threads: Int) throws -> ImageDataset {
        var options = DatasetOptions()
        options.batchSize = 5
        options.shuffle = true
        options.seed = 4
        options.threads = threads
        return try ImageDataset.fromMemory(bytes: pixels, floats: nil, labels: [Int32](repeating: 0, count: count),
                                           count: count, height: size, width: size, classCount: 1, options: options)
    }
    let augmentation = Augmentation(layers: [.flip(.horizontal), .rotation(try RandomRotation(factor: .number(0.2))),
                                             .contrast(try RandomContrast(factor: .number(0.3)))], seed: 21)
    let floats = size * size * 3
    func pass(_ epoch: Int, threads: Int) throws -> [Int: [Float]] {
        let iterator = try dataset(threads: threads).makeIterator(epoch: epoch, augmentation: augmentation)
        var images: [Int: [Float]] = [:]
        while let batch = try iterator.next() {
            for (k, index) in batch.indices.enumerated() {
                images[index] = Array(UnsafeBufferPointer(start: batch.images + k * floats, count: floats))
            }
        }
        return images
    }
    let first = try pass(1, threads: 2)
    #expect(first.count == count)
    for index in 0..<count {
        var expected = pixels[(index * floats)..<((index + 1) * floats)].map(Float.init)
        expected.withUnsafeMutableBufferPointer {
            augmentation.apply(inPlace: $0.baseAddress!, height: size, width: size, channels: 3,
                               scratch: AugmentationScratch(), epoch: 1, index: index)
        }
        #expect(first[index] == expected, "image \(index)")
        #expect(first[index] != pixels[(index * floats)..<((index + 1) * floats)].map(Float.init))
    }
    // Bit-identical on one thread; another pass draws anew.
    #expect(try pass(1, threads: 1) == first)
    let second = try pass(2, threads: 2)
    #expect((0..<count).allSatisfy { second[$0] != first[$0] })
}

/// A 24-bit BMP of `width` × `height` pixels whose values follow from `seed`.
private func bmp(width: Int, height: Int, seed: Int) -> [UInt8] {
    let rowBytes = (width * 3 + 3) / 4 * 4, size = 54 + rowBytes * height
    func le(_ value: Int, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    var file: [UInt8] = Array("BM".utf8) + le(size, 4) + le(0, 4) + le(54, 4)
    file += le(40, 4) + le(width, 4) + le(height, 4) + le(1, 2) + le(24, 2) + le(0, 4) + le(rowBytes * height, 4)
    file += le(2835, 4) + le(2835, 4) + le(0, 4) + le(0, 4)
    for y in 0..<height {
        var row = (0..<(width * 3)).map { UInt8(truncatingIfNeeded: ($0 * 37 + y * 11 + seed * 53) % 251) }
        row += [UInt8](repeating: 0, count: rowBytes - width * 3)
        file += row
    }
    return file
}

@Test("decoded images are stored by the first pass and copied by the next ones, the same pixels")
func decodedImagesAreKept() throws {
    let tree = try ScratchTree()
    for i in 0..<6 { try tree.file("\(i % 2 == 0 ? "a" : "b")/\(i).bmp", bmp(width: 7, height: 5, seed: i)) }
    var options = DatasetOptions()
    (options.imageHeight, options.imageWidth, options.batchSize, options.seed) = (4, 6, 4, 3)
    let dataset = try ImageDataset.fromDirectory(tree.root, options: options)
    #expect(DecodedImageCache(for: dataset, memoryLimit: 6 * 4 * 6 * 3 * 4 - 1) == nil)  // too large for the limit
    let cache = try #require(DecodedImageCache(for: dataset, memoryLimit: 6 * 4 * 6 * 3 * 4))
    func pass(_ epoch: Int, decoded: DecodedImageCache?) throws -> [Int: [Float]] {
        let iterator = dataset.makeIterator(epoch: epoch, decoded: decoded)
        var images: [Int: [Float]] = [:]
        while let batch = try iterator.next() {
            for (k, index) in batch.indices.enumerated() {
                images[index] = Array(UnsafeBufferPointer(start: batch.images + k * dataset.imageFloats,
                                                          count: dataset.imageFloats))
            }
        }
        return images
    }
    let first = try pass(0, decoded: cache)
    #expect(first.count == 6)
    // With the files gone, only the stored images can give the next pass.
    try FileManager.default.removeItem(atPath: tree.root + "/a")
    try FileManager.default.removeItem(atPath: tree.root + "/b")
    #expect(throws: GraftError.self) { _ = try pass(1, decoded: nil) }
    #expect(try pass(1, decoded: cache) == first)

    let inMemory = try ImageDataset.fromMemory(bytes: [UInt8](repeating: 0, count: 48), floats: nil, labels: [0, 0],
                                               count: 2, height: 2, width: 4, classCount: 1, options: DatasetOptions())
    #expect(DecodedImageCache(for: inMemory, memoryLimit: 1 << 20) == nil)  // loading is a copy already
}
