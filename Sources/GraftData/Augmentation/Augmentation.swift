import GraftFoundation
import GraftKernels

/// Augmentation layers applied in order, as a Keras model's augmentation
/// block applies them while training. Every draw is a pure function of
/// (seed, epoch, image index, layer position): a run is reproducible bit
/// for bit, each image's draws are independent of the others' and of the
/// order in which images are processed, so any thread may augment any
/// image.
public struct Augmentation: Equatable, Sendable {
    public let layers: [AugmentationLayer]
    public let seed: UInt64

    public init(layers: [AugmentationLayer], seed: UInt64) {
        (self.layers, self.seed) = (layers, seed)
    }

    /// The size of an augmented image of `height` × `width` (RandomCrop's).
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        layers.reduce((height, width)) { $1.outputSize(height: $0.height, width: $0.width) }
    }

    /// Whether an image has finitely many outcomes (flips only): then
    /// `flipVariant` names each.
    public var hasFiniteOutcomes: Bool { layers.allSatisfy(\.hasFiniteOutcomes) }

    /// The random bits the layer at `position` draws from for image `index`
    /// of pass `epoch`: the one owner of the draws.
    private func random(epoch: Int, index: Int, position: Int) -> SplitMix64 {
        let imageSeed = seed ^ (UInt64(truncatingIfNeeded: epoch) &* SplitMix64.golden)
            ^ (UInt64(truncatingIfNeeded: index) &* SeedSalt.image)
        return SplitMix64(seed: SplitMix64.mix(imageSeed ^ (UInt64(position) &* SeedSalt.augmentationLayer)))
    }

    /// For flips only (`hasFiniteOutcomes`): the flip image `index` of pass
    /// `epoch` ends with, the layers' flips composed; nil otherwise.
    public func flipVariant(epoch: Int, index: Int) -> RandomFlip.Variant? {
        var result = RandomFlip.Variant.identity
        for (position, layer) in layers.enumerated() {
            guard case .flip(let mode) = layer else { return nil }
            var random = random(epoch: epoch, index: index, position: position)
            let variant = RandomFlip.Variant.drawn(mode, from: random.next())
            result = RandomFlip.Variant(horizontal: result.horizontal != variant.horizontal,
                                        vertical: result.vertical != variant.vertical)
        }
        return result
    }

    /// Augments one image, image `index` of pass `epoch`.
    public func apply(to image: inout AugmentedImage, scratch: AugmentationScratch, epoch: Int, index: Int) {
        for (position, layer) in layers.enumerated() {
            var random = random(epoch: epoch, index: index, position: position)
            layer.apply(to: &image, scratch: &scratch.floats, random: &random)
        }
    }

    /// Augments one image of height × width × channels floats in place, for
    /// layers that keep its size (no RandomCrop of another size).
    public func apply(inPlace pixels: UnsafeMutablePointer<Float>, height: Int, width: Int, channels: Int,
                      scratch: AugmentationScratch, epoch: Int, index: Int) {
        let floats = height * width * channels
        var image = AugmentedImage(pixels: Array(UnsafeBufferPointer(start: pixels, count: floats)),
                                   height: height, width: width, channels: channels)
        apply(to: &image, scratch: scratch, epoch: epoch, index: index)
        precondition(image.floats == floats, "an augmentation applied in place changed the image's size")
        image.pixels.withUnsafeBufferPointer { pixels.update(from: $0.baseAddress!, count: floats) }
    }

    /// Augments `count` images (height × width × channels floats each, one
    /// after another at `input`) into `output` (each of `outputSize`), image
    /// i being image i of pass `epoch`, on up to `threads` threads (the
    /// result does not depend on how many).
    public func apply(images input: UnsafePointer<Float>, count: Int, height: Int, width: Int, channels: Int,
                      epoch: Int, threads: Int, into output: UnsafeMutablePointer<Float>) {
        let size = outputSize(height: height, width: width)
        let (inFloats, outFloats) = (height * width * channels, size.height * size.width * channels)
        let scratch = AugmentationScratch.perThread(threads)
        Parallel.forEach(count, threads: threads) { i, worker in
            var image = AugmentedImage(pixels: Array(UnsafeBufferPointer(start: input + i * inFloats, count: inFloats)),
                                       height: height, width: width, channels: channels)
            apply(to: &image, scratch: scratch[worker], epoch: epoch, index: i)
            image.pixels.withUnsafeBufferPointer { (output + i * outFloats).update(from: $0.baseAddress!, count: outFloats) }
        }
    }
}

/// Working memory of one thread's augmentation, grown by the first image
/// it takes.
public final class AugmentationScratch {
    var floats: [Float] = []

    public init() {}

    /// One for each of up to `threads` threads.
    public static func perThread(_ threads: Int) -> [AugmentationScratch] {
        (0..<max(1, threads)).map { _ in AugmentationScratch() }
    }
}
