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

    /// Augments one image, image `index` of pass `epoch`. `scratch` is
    /// working memory, grown as needed (keep one per thread).
    public func apply(to image: inout AugmentedImage, scratch: inout [Float], epoch: Int, index: Int) {
        let imageSeed = seed ^ (UInt64(truncatingIfNeeded: epoch) &* SplitMix64.golden)
            ^ (UInt64(truncatingIfNeeded: index) &* SeedSalt.image)
        for (position, layer) in layers.enumerated() {
            var random = SplitMix64(seed: SplitMix64.mix(imageSeed ^ (UInt64(position) &* SeedSalt.augmentationLayer)))
            layer.apply(to: &image, scratch: &scratch, random: &random)
        }
    }

    /// Augments `count` images (height × width × channels floats each, one
    /// after another at `input`) into `output` (each of `outputSize`), image
    /// i being image i of pass `epoch`, on up to `threads` threads (the
    /// result does not depend on how many).
    public func apply(images input: UnsafePointer<Float>, count: Int, height: Int, width: Int, channels: Int,
                      epoch: Int, threads: Int, into output: UnsafeMutablePointer<Float>) {
        let size = outputSize(height: height, width: width)
        let (inFloats, outFloats) = (height * width * channels, size.height * size.width * channels)
        // Scratch memory per thread, grown by the first image it takes.
        final class Scratch { var floats: [Float] = [] }
        let scratch = (0..<max(1, threads)).map { _ in Scratch() }
        Parallel.forEach(count, threads: threads) { i, worker in
            var image = AugmentedImage(pixels: Array(UnsafeBufferPointer(start: input + i * inFloats, count: inFloats)),
                                       height: height, width: width, channels: channels)
            apply(to: &image, scratch: &scratch[worker].floats, epoch: epoch, index: i)
            image.pixels.withUnsafeBufferPointer { (output + i * outFloats).update(from: $0.baseAddress!, count: outFloats) }
        }
    }
}
