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
