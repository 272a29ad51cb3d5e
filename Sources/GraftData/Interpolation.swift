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

    /// Resizes `region` of an RGB image (height × width × 3 values) to
    /// outHeight × outWidth × 3 floats.
    public func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, height: Int, width: Int,
                                          region: ImageRegion, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        switch self {
        case .bilinear:
            BilinearResize.resize(pixels, height: height, width: width, region: region, outHeight: outHeight,
                                  outWidth: outWidth, into: output)
        case .nearest:
            NearestResize.resize(pixels, width: width, region: region, outHeight: outHeight, outWidth: outWidth,
                                 into: output)
        case .area:
            AreaResize.resize(pixels, width: width, region: region, outHeight: outHeight, outWidth: outWidth,
                              into: output)
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

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, region: ImageRegion,
                                          outHeight: Int, outWidth: Int, into output: UnsafeMutablePointer<Float>) {
        let xs = sources(input: region.width, output: outWidth)
        for (oy, sy) in sources(input: region.height, output: outHeight).enumerated() {
            let row = pixels + ((region.top + sy) * width + region.left) * 3
            let out = output + oy * outWidth * 3
            for (ox, sx) in xs.enumerated() {
                for c in 0..<3 { out[ox * 3 + c] = row[sx * 3 + c].floatValue }
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

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, region: ImageRegion,
                                          outHeight: Int, outWidth: Int, into output: UnsafeMutablePointer<Float>) {
        let (columns, widthScale) = spans(input: region.width, output: outWidth)
        let (rows, heightScale) = spans(input: region.height, output: outHeight)
        let scale = Float(1.0 / Double(heightScale * widthScale))
        func bounded(_ v: Int, _ limit: Int) -> Int { min(limit - 1, max(0, v)) }
        for (oy, rowSpan) in rows.enumerated() {
            let low = Float(oy) * heightScale, high = Float(oy + 1) * heightScale
            for (ox, span) in columns.enumerated() {
                for c in 0..<3 {
                    var sum: Float = 0
                    for i in rowSpan.start..<rowSpan.end {
                        let row = pixels + ((region.top + bounded(i, region.height)) * width + region.left) * 3
                        func value(_ x: Int) -> Float { row[bounded(x, region.width) * 3 + c].floatValue }
                        var rowSum = value(span.start) * span.startScale
                        if span.start + 1 != span.end {
                            for x in (span.start + 1)..<max(span.start + 1, span.end - 1) { rowSum += value(x) }
                            rowSum += value(span.end - 1) * span.endMinusOneScale
                        }
                        sum += rowSum * coverage(i, low: low, high: high, scale: heightScale)
                    }
                    output[(oy * outWidth + ox) * 3 + c] = sum * scale
                }
            }
        }
    }
}
