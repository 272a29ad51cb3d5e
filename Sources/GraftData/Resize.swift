/// A rectangle of an image: the part that is resized (all of it, or Keras's
/// crop_to_aspect_ratio box).
public struct ImageRegion: Equatable {
    public var top: Int, left: Int, height: Int, width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top; self.left = left; self.height = height; self.width = width
    }

    public static func whole(height: Int, width: Int) -> ImageRegion {
        ImageRegion(top: 0, left: 0, height: height, width: width)
    }

    /// Keras's crop_to_aspect_ratio: the largest centred box of the target's
    /// aspect ratio.
    public static func centredCrop(height: Int, width: Int, targetHeight: Int, targetWidth: Int) -> ImageRegion {
        let cropHeight = min(height, Int(Float(width * targetHeight) / Float(targetWidth)))
        let cropWidth = min(width, Int(Float(height * targetWidth) / Float(targetHeight)))
        return ImageRegion(top: (height - cropHeight) / 2, left: (width - cropWidth) / 2,
                           height: max(cropHeight, 1), width: max(cropWidth, 1))
    }
}

/// Where a resized image lands in its target, as TensorFlow's
/// `resize_with_pad` places it (Keras's pad_to_aspect_ratio): scaled to fit,
/// aspect ratio kept, centred, the rest zeros. Computed in float32, as
/// TensorFlow computes it.
public struct PaddedPlacement: Equatable {
    public var top: Int, left: Int, height: Int, width: Int

    public init(height: Int, width: Int, targetHeight: Int, targetWidth: Int) {
        let (h, w) = (Float(height), Float(width))
        let (targetH, targetW) = (Float(targetHeight), Float(targetWidth))
        let ratio = max(w / targetW, h / targetH)
        let (resizedH, resizedW) = (h / ratio, w / ratio)
        // At least a pixel: an image of extreme aspect ratio, where
        // TensorFlow's resize to nothing fails, keeps a line.
        self.height = max(1, Int(resizedH.rounded(.down)))
        self.width = max(1, Int(resizedW.rounded(.down)))
        top = max(0, Int(((targetH - resizedH) / 2).rounded(.down)))
        left = max(0, Int(((targetW - resizedW) / 2).rounded(.down)))
    }
}

/// TensorFlow's bilinear resize as Keras's image_dataset_from_directory runs
/// it: half-pixel centres (src = (dst + 0.5)·in/out − 0.5, clamped to the
/// edge pixels), no antialiasing, aspect ratio not kept, Float32 output
/// 0…255 not rounded, in TensorFlow's order of operations so that the
/// numbers agree to the last bits.
public enum BilinearResize {
    /// Where one output row or column samples its input.
    @usableFromInline
    struct Sample {
        @usableFromInline var lower: Int, upper: Int, lerp: Float
    }

    @usableFromInline
    static func samples(input: Int, output: Int) -> [Sample] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { i in
            let position = (Float(i) + 0.5) * scale - 0.5
            let floor = position.rounded(.down)
            return Sample(lower: max(Int(floor), 0), upper: min(Int(position.rounded(.up)), input - 1),
                          lerp: position - floor)
        }
    }

    /// Resizes `region` of an image of `channels` (height × width × channels
    /// values, uint8 from a decoder or float) to outHeight × outWidth ×
    /// channels floats.
    @inlinable
    public static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, height: Int, width: Int,
                                                 channels: Int, region: ImageRegion, outHeight: Int, outWidth: Int,
                                                 into output: UnsafeMutablePointer<Float>) {
        // One copy of the loops per common channel count, each compiled with
        // its count a constant (RGB, the hot case, in particular).
        switch channels {
        case 3: resize(pixels, width: width, region: region, outHeight: outHeight, outWidth: outWidth, into: output,
                       channelCount: 3)
        case 1: resize(pixels, width: width, region: region, outHeight: outHeight, outWidth: outWidth, into: output,
                       channelCount: 1)
        default: resize(pixels, width: width, region: region, outHeight: outHeight, outWidth: outWidth,
                        into: output, channelCount: channels)
        }
    }

    @inlinable @inline(__always)
    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, region: ImageRegion,
                                          outHeight: Int, outWidth: Int, into output: UnsafeMutablePointer<Float>,
                                          channelCount channels: Int) {
        if region.height == outHeight && region.width == outWidth {
            // Every sample falls on a pixel (lerp 0): TensorFlow's arithmetic
            // gives the pixel's value exactly, so convert and copy.
            for y in 0..<outHeight {
                let row = pixels + ((region.top + y) * width + region.left) * channels
                let out = output + y * outWidth * channels
                for i in 0..<(outWidth * channels) { out[i] = row[i].floatValue }
            }
            return
        }
        let ys = samples(input: region.height, output: outHeight)
        let xs = samples(input: region.width, output: outWidth)
        ys.withUnsafeBufferPointer { ys in
            xs.withUnsafeBufferPointer { xs in
                for oy in 0..<outHeight {
                    let sy = ys[oy]
                    let top = pixels + ((region.top + sy.lower) * width + region.left) * channels
                    let bottom = pixels + ((region.top + sy.upper) * width + region.left) * channels
                    var out = output + oy * outWidth * channels
                    for ox in 0..<outWidth {
                        let sx = xs[ox]
                        let left = sx.lower * channels, right = sx.upper * channels
                        for c in 0..<channels {
                            let topLeft = top[left + c].floatValue, topRight = top[right + c].floatValue
                            let bottomLeft = bottom[left + c].floatValue, bottomRight = bottom[right + c].floatValue
                            let upper = topLeft + (topRight - topLeft) * sx.lerp
                            let lower = bottomLeft + (bottomRight - bottomLeft) * sx.lerp
                            out[c] = upper + (lower - upper) * sy.lerp
                        }
                        out += channels
                    }
                }
            }
        }
    }
}

/// A pixel component the resize reads: uint8 from decoders, Float from memory.
public protocol PixelValue {
    var floatValue: Float { get }
}

extension UInt8: PixelValue {
    @inlinable public var floatValue: Float { Float(self) }
}

extension Float: PixelValue {
    @inlinable public var floatValue: Float { self }
}
