import Glibc
import GraftFoundation

/// An image on its way through augmentation layers: float pixels (height ×
/// width × channels), the size changing where a layer crops.
public struct AugmentedImage {
    public var pixels: [Float]
    public var height: Int, width: Int
    public let channels: Int

    public init(pixels: [Float], height: Int, width: Int, channels: Int) {
        precondition(pixels.count >= height * width * channels, "pixels smaller than the image")
        (self.pixels, self.height, self.width, self.channels) = (pixels, height, width, channels)
    }

    var floats: Int { height * width * channels }
}

extension AugmentationLayer {
    /// Applies the layer as Keras's does in training, with its values drawn
    /// from `random` (each layer draws what Keras's draws for one image, in
    /// its order). `scratch` is working memory, grown as needed.
    func apply(to image: inout AugmentedImage, scratch: inout [Float], random: inout SplitMix64) {
        switch self {
        case .flip(let mode):
            let variant = RandomFlip.Variant.drawn(mode, from: random.next())
            image.pixels.withUnsafeMutableBufferPointer {
                RandomFlip.apply(variant, to: $0.baseAddress!, height: image.height, width: image.width,
                                 channels: image.channels)
            }
        case .rotation(let layer):
            let degrees = DrawRange(layer.turns.lower * 360, layer.turns.upper * 360).draw(&random)
            resample(&image, scratch: &scratch, layer.sampler, rotation(degrees: degrees, image))
        case .zoom(let layer):
            let zy = layer.heightZoom.draw(&random)
            let zx = layer.widthZoom?.draw(&random) ?? zy
            let (cx, cy) = centre(image)
            resample(&image, scratch: &scratch, layer.sampler,
                     AffineTransform(a0: zx, a1: 0, a2: cx * (1 - zx), b0: 0, b1: zy, b2: cy * (1 - zy)))
        case .translation(let layer):
            let dy = layer.heightShift.draw(&random) * Float(image.height)
            let dx = layer.widthShift.draw(&random) * Float(image.width)
            resample(&image, scratch: &scratch, layer.sampler, AffineTransform(a0: 1, a1: 0, a2: -dx, b0: 0, b1: 1, b2: -dy))
        case .crop(let layer):
            crop(&image, scratch: &scratch, layer, random: &random)
        case .contrast(let layer):
            adjustContrast(&image, factor: layer.contrast.draw(&random), clip: layer.valueRange)
        case .brightness(let layer):
            let delta = layer.fraction.draw(&random) * (layer.valueRange.high - layer.valueRange.low)
            let (low, high) = layer.valueRange
            let count = image.floats
            image.pixels.withUnsafeMutableBufferPointer { p in
                for i in 0..<count { p[i] = min(max(p[i] + delta, low), high) }
            }
        }
    }

    /// The centre of rotation and zoom, ((W − 1)/2, (H − 1)/2).
    private func centre(_ image: AugmentedImage) -> (x: Float, y: Float) {
        (0.5 * Float(image.width - 1), 0.5 * Float(image.height - 1))
    }

    /// Keras's rotation matrix (BaseImagePreprocessingLayer._compute_affine_matrix
    /// with the centre at the middle): a positive angle turns the content
    /// counter-clockwise as displayed.
    private func rotation(degrees: Float, _ image: AugmentedImage) -> AffineTransform {
        let theta = degrees * Float(Double.pi / 180)
        let (c, s) = (Float(cos(Double(theta))), Float(sin(Double(theta))))
        let (cx, cy) = centre(image)
        let (a0, a1, b0, b1) = (c, -s, s, c)
        return AffineTransform(a0: a0, a1: a1, a2: cx - cx * a0 - cy * a1, b0: b0, b1: b1, b2: cy - cx * b0 - cy * b1)
    }

    private func resample(_ image: inout AugmentedImage, scratch: inout [Float], _ sampler: AffineSampler,
                          _ transform: AffineTransform) {
        let count = image.floats
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        image.pixels.withUnsafeBufferPointer { input in
            scratch.withUnsafeMutableBufferPointer { output in
                sampler.apply(transform, input: input.baseAddress!, output: output.baseAddress!,
                              height: image.height, width: image.width, channels: image.channels)
            }
        }
        swap(&image.pixels, &scratch)
    }

    /// Keras's RandomCrop in training (its get_random_transformation and
    /// transform_images).
    private func crop(_ image: inout AugmentedImage, scratch: inout [Float], _ layer: RandomCrop,
                      random: inout SplitMix64) {
        let (h, w) = (image.height, image.width)
        let top: Int, left: Int
        if h > layer.height && w > layer.width {
            top = Int(DrawRange(0, Float(h - layer.height + 1)).draw(&random))
            left = Int(DrawRange(0, Float(w - layer.width + 1)).draw(&random))
        } else {
            // The centred window of the target's aspect ratio (in Python's
            // double arithmetic), then sliced at the target's size.
            let cropHeight = max(min(h, Int(Double(w * layer.height) / Double(layer.width))), 1)
            let cropWidth = max(min(w, Int(Double(h * layer.width) / Double(layer.height))), 1)
            top = Int(Double(h - cropHeight) / 2)
            left = Int(Double(w - cropWidth) / 2)
        }
        let region = ImageRegion(top: top, left: left, height: min(layer.height, h - top),
                                 width: min(layer.width, w - left))
        let count = layer.height * layer.width * image.channels
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        image.pixels.withUnsafeBufferPointer { input in
            scratch.withUnsafeMutableBufferPointer { output in
                // A window of the target's size is copied exactly (the
                // resize's identity), a smaller one stretched to it.
                BilinearResize.resize(input.baseAddress!, height: h, width: w, channels: image.channels,
                                      region: region, outHeight: layer.height, outWidth: layer.width,
                                      into: output.baseAddress!)
            }
        }
        swap(&image.pixels, &scratch)
        (image.height, image.width) = (layer.height, layer.width)
    }

    /// (x − mean) · factor + mean, the mean per channel over the image
    /// (Keras: over the rows, then the columns), clipped as Keras clips.
    private func adjustContrast(_ image: inout AugmentedImage, factor: Float, clip: (low: Float, high: Float)) {
        let (h, w, channels) = (image.height, image.width, image.channels)
        image.pixels.withUnsafeMutableBufferPointer { p in
            for c in 0..<channels {
                var total = 0.0
                for i in 0..<(h * w) { total += Double(p[i * channels + c]) }
                let mean = Float(total / Double(h * w))
                for i in 0..<(h * w) {
                    let at = i * channels + c
                    p[at] = min(max((p[at] - mean) * factor + mean, clip.low), clip.high)
                }
            }
        }
    }
}
