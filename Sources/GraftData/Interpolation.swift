/// The resize methods of Keras's image_dataset_from_directory that Graft
/// computes, each in TensorFlow's arithmetic (`tf.image.resize` with
/// `antialias=False`), so that the pixels agree to float32 rounding.
public enum Interpolation: String, CaseIterable, Sendable {
    /// Half-pixel centres, the four nearest pixels weighted (`BilinearResize`).
    case bilinear
    /// The pixel whose cell holds the output's half-pixel centre.
    case nearest
    /// The mean of the input cells an output cell covers, each weighted by
    /// the part it covers (TensorFlow's `resize_area`).
    case area
    /// Keys's cubic convolution (a = −0.5) over the 4x4 nearest pixels,
    /// half-pixel centres, taps outside the image dropped and the weights
    /// renormalised (TensorFlow's `resize_bicubic`).
    case bicubic
    /// TensorFlow's `scale_and_translate` with these kernels (`KernelResize`).
    case lanczos3, lanczos5, gaussian, mitchellcubic

    /// Resizes `region` of an image of `channels` (height × width ×
    /// channels values) to outHeight × outWidth × channels floats.
    public func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, height: Int, width: Int, channels: Int,
                                          region: ImageRegion, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        switch self {
        case .bilinear:
            BilinearResize.resize(pixels, height: height, width: width, channels: channels, region: region,
                                  outHeight: outHeight, outWidth: outWidth, into: output)
        case .nearest:
            NearestResize.resize(pixels, width: width, channels: channels, region: region, outHeight: outHeight,
                                 outWidth: outWidth, into: output)
        case .area:
            AreaResize.resize(pixels, width: width, channels: channels, region: region, outHeight: outHeight,
                              outWidth: outWidth, into: output)
        case .bicubic:
            BicubicResize.resize(pixels, width: width, channels: channels, region: region, outHeight: outHeight,
                                 outWidth: outWidth, into: output)
        case .lanczos3, .lanczos5, .gaussian, .mitchellcubic:
            let kernel: KernelResize.Kernel = switch self {
            case .lanczos3: .lanczos(3)
            case .lanczos5: .lanczos(5)
            case .gaussian: .gaussian
            default: .mitchellCubic
            }
            KernelResize.resize(pixels, width: width, channels: channels, region: region, kernel: kernel,
                                outHeight: outHeight, outWidth: outWidth, into: output)
        }
    }
}

/// TensorFlow's `resize_nearest_neighbor` with half-pixel centres: output
/// pixel i takes input pixel floor((i + 0.5)·in/out), in float32.
enum NearestResize {
    static func sources(input: Int, output: Int) -> [Int] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { i in max(0, min(Int(((Float(i) + 0.5) * scale).rounded(.down)), input - 1)) }
    }

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, channels: Int,
                                          region: ImageRegion, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        let xs = sources(input: region.width, output: outWidth)
        for (oy, sy) in sources(input: region.height, output: outHeight).enumerated() {
            let row = pixels + ((region.top + sy) * width + region.left) * channels
            let out = output + oy * outWidth * channels
            for (ox, sx) in xs.enumerated() {
                for c in 0..<channels { out[ox * channels + c] = row[sx * channels + c].floatValue }
            }
        }
    }
}

/// TensorFlow's `resize_area` (align_corners false): output cell i covers
/// input [i·s, (i + 1)·s), s = in/out; each input cell counts by the part of
/// it inside, and the sum is scaled by 1/(s_y·s_x). Float32 throughout, in
/// TensorFlow's order: each row's cells summed along x, the rows' sums
/// weighted and added, then scaled.
enum AreaResize {
    /// The input cells one output cell covers along an axis, and the part
    /// of the first and last covered.
    struct Span {
        var start: Int, end: Int, startScale: Float, endMinusOneScale: Float
    }

    /// The part of input cell `v` inside [low, high) (s when the cell holds
    /// the whole span), as TensorFlow computes it.
    static func coverage(_ v: Int, low: Float, high: Float, scale: Float) -> Float {
        Float(v) < low ? (Float(v + 1) > high ? scale : Float(v + 1) - low)
                       : (Float(v + 1) > high ? high - Float(v) : 1)
    }

    static func spans(input: Int, output: Int) -> (spans: [Span], scale: Float) {
        let scale = Float(input) / Float(output)
        let spans = (0..<output).map { i -> Span in
            let low = Float(i) * scale, high = Float(i + 1) * scale
            let start = Int(low.rounded(.down)), end = Int(high.rounded(.up))
            return Span(start: start, end: end, startScale: coverage(start, low: low, high: high, scale: scale),
                        endMinusOneScale: coverage(end - 1, low: low, high: high, scale: scale))
        }
        return (spans, scale)
    }

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, channels: Int,
                                          region: ImageRegion, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        let (columns, widthScale) = spans(input: region.width, output: outWidth)
        let (rows, heightScale) = spans(input: region.height, output: outHeight)
        let scale = Float(1.0 / Double(heightScale * widthScale))
        func bounded(_ v: Int, _ limit: Int) -> Int { min(limit - 1, max(0, v)) }
        for (oy, rowSpan) in rows.enumerated() {
            let low = Float(oy) * heightScale, high = Float(oy + 1) * heightScale
            for (ox, span) in columns.enumerated() {
                for c in 0..<channels {
                    var sum: Float = 0
                    for i in rowSpan.start..<rowSpan.end {
                        let row = pixels + ((region.top + bounded(i, region.height)) * width + region.left) * channels
                        func value(_ x: Int) -> Float { row[bounded(x, region.width) * channels + c].floatValue }
                        var rowSum = value(span.start) * span.startScale
                        if span.start + 1 != span.end {
                            for x in (span.start + 1)..<max(span.start + 1, span.end - 1) { rowSum += value(x) }
                            rowSum += value(span.end - 1) * span.endMinusOneScale
                        }
                        sum += rowSum * coverage(i, low: low, high: high, scale: heightScale)
                    }
                    output[(oy * outWidth + ox) * channels + c] = sum * scale
                }
            }
        }
    }
}

/// TensorFlow's `resize_bicubic` with half-pixel centres: each output pixel
/// sums the 4x4 input pixels around (i + 0.5)·s − 0.5, first down the four
/// rows of each of the four columns, then across, with Keys's cubic weights
/// read from a table of 1024 steps (as TensorFlow reads them), those of taps
/// outside the image set to 0 and the rest renormalised to sum to 1.
enum BicubicResize {
    static let tableSteps = 1024

    /// Keys's weights at distance x and x + 1 for x = i/1024, i = 0...1024,
    /// computed in double and rounded, as TensorFlow fills its table.
    static let table: [(near: Float, far: Float)] = (0...tableSteps).map { i in
        let a = -0.5
        var x = Float(Double(i) * 1.0 / Double(tableSteps))
        let near = Float(((a + 2) * Double(x) - (a + 3)) * Double(x) * Double(x) + 1)
        x = Float(Double(x) + 1.0)
        let far = Float(((a * Double(x) - 5 * a) * Double(x) + 8 * a) * Double(x) - 4 * a)
        return (near, far)
    }

    /// The four taps along an axis of one output position: indices and weights.
    struct Taps {
        var index: (Int, Int, Int, Int)
        var weight: (Float, Float, Float, Float)
    }

    static func taps(input: Int, output: Int) -> [Taps] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { i in
            let position = (Float(i) + 0.5) * scale - 0.5
            let base = Int(position.rounded(.down))
            // lrintf: to the nearest step, ties to even.
            let step = Int(((position - Float(base)) * Float(tableSteps)).rounded(.toNearestOrEven))
            var index = (0, 0, 0, 0), weight: (Float, Float, Float, Float) = (0, 0, 0, 0)
            func tap(_ k: Int, _ value: Float) -> (Int, Float) {
                let at = min(input - 1, max(0, base + k))
                return (at, at == base + k ? value : 0)
            }
            (index.0, weight.0) = tap(-1, table[step].far)
            (index.1, weight.1) = tap(0, table[step].near)
            (index.2, weight.2) = tap(1, table[tableSteps - step].near)
            (index.3, weight.3) = tap(2, table[tableSteps - step].far)
            let sum = weight.0 + weight.1 + weight.2 + weight.3
            if abs(sum) >= 1000 * Float.leastNormalMagnitude {
                let scale = 1 / sum
                weight = (weight.0 * scale, weight.1 * scale, weight.2 * scale, weight.3 * scale)
            }
            return Taps(index: index, weight: weight)
        }
    }

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, channels: Int,
                                          region: ImageRegion, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        let columns = taps(input: region.width, output: outWidth)
        func row(_ y: Int) -> UnsafePointer<Pixel> { pixels + ((region.top + y) * width + region.left) * channels }
        for (oy, ry) in taps(input: region.height, output: outHeight).enumerated() {
            let (row0, row1, row2, row3) = (row(ry.index.0), row(ry.index.1), row(ry.index.2), row(ry.index.3))
            for (ox, cx) in columns.enumerated() {
                for c in 0..<channels {
                    // Down the four rows at column x, then across the four columns.
                    func column(_ x: Int) -> Float {
                        let at = x * channels + c
                        return row0[at].floatValue * ry.weight.0 + row1[at].floatValue * ry.weight.1
                            + row2[at].floatValue * ry.weight.2 + row3[at].floatValue * ry.weight.3
                    }
                    output[(oy * outWidth + ox) * channels + c] = column(cx.index.0) * cx.weight.0
                        + column(cx.index.1) * cx.weight.1 + column(cx.index.2) * cx.weight.2
                        + column(cx.index.3) * cx.weight.3
                }
            }
        }
    }
}
