import Glibc

/// TensorFlow's `scale_and_translate` without antialiasing, which
/// `tf.image.resize` runs for the "lanczos3", "lanczos5", "gaussian" and
/// "mitchellcubic" methods: output pixel i samples the input at
/// (i + 0.5)/s, s = out/in, weighing the input pixels whose centres lie
/// within the kernel's radius by the kernel at their distance, the weights
/// normalised to sum to 1 (a span whose weights sum to about 0 gives 0).
/// Rows are resampled first into float32, then columns, each sum in
/// TensorFlow's order.
enum KernelResize {
    /// A sampling kernel and its radius, as TensorFlow defines them in float32.
    struct Kernel {
        let radius: Float
        let weight: (Float) -> Float

        static func lanczos(_ radius: Float) -> Kernel {
            Kernel(radius: radius) { x in
                let pi: Float = 3.14159265359
                let x = abs(x)
                if x > radius { return 0 }
                // sin(x)/x's limit at 0.
                if x <= 1e-3 { return 1 }
                return radius * sin(pi * x) * sin(pi * x / radius) / (pi * pi * x * x)
            }
        }

        /// Radius 1.5, σ = 0.5; the exponent computed in double, as TensorFlow does.
        static let gaussian = Kernel(radius: 1.5) { x in
            let (x, sigma) = (abs(x), Float(1.5) / 3)
            if x >= 1.5 { return 0 }
            return Float(exp(-Double(x * x) / (2.0 * Double(sigma) * Double(sigma))))
        }

        /// Mitchell and Netravali's cubic, B = C = 1/3.
        static let mitchellCubic = Kernel(radius: 2) { x in
            let x = abs(x)
            if x >= 2 { return 0 }
            if x >= 1 { return ((Float(-7) / 18 * x + 2) * x - Float(10) / 3) * x + Float(16) / 9 }
            return ((Float(7) / 6 * x - 2) * x) * x + Float(8) / 9
        }
    }

    /// The input pixels one output pixel weighs, and their weights.
    struct Span {
        var start: Int
        var weights: [Float]
    }

    static func spans(_ kernel: Kernel, input: Int, output: Int) -> [Span] {
        let scale = Float(output) / Float(input)
        let inverseScale = Float(1.0 / Double(scale))
        return (0..<output).map { i in
            let sample = (Float(i) + 0.5) * inverseScale
            guard sample >= 0 && sample <= Float(input) else { return Span(start: 0, weights: []) }
            let first = min(input - 1, max(0, Int((sample - kernel.radius - 0.5).rounded(.up))))
            let end = min(input - 1, max(0, Int((sample + kernel.radius - 0.5).rounded(.down)))) + 1
            let weights = (first..<end).map { kernel.weight(abs(Float($0) + 0.5 - sample)) }
            let total = weights.reduce(0, +)
            guard abs(total) >= 1000 * Float.leastNormalMagnitude else {
                return Span(start: first, weights: weights.map { _ in 0 })
            }
            let normaliser = 1 / total
            return Span(start: first, weights: weights.map { $0 * normaliser })
        }
    }

    static func resize<Pixel: PixelValue>(_ pixels: UnsafePointer<Pixel>, width: Int, channels: Int,
                                          region: ImageRegion, kernel: Kernel, outHeight: Int, outWidth: Int,
                                          into output: UnsafeMutablePointer<Float>) {
        let rowFloats = region.width * channels
        // Rows first: outHeight rows of the region's width.
        var rows = [Float](repeating: 0, count: outHeight * rowFloats)
        for (oy, span) in spans(kernel, input: region.height, output: outHeight).enumerated() {
            for (k, weight) in span.weights.enumerated() {
                let source = pixels + ((region.top + span.start + k) * width + region.left) * channels
                for i in 0..<rowFloats { rows[oy * rowFloats + i] += weight * source[i].floatValue }
            }
        }
        let columns = spans(kernel, input: region.width, output: outWidth)
        for oy in 0..<outHeight {
            for (ox, span) in columns.enumerated() {
                for c in 0..<channels {
                    var sum: Float = 0
                    for (k, weight) in span.weights.enumerated() {
                        sum += weight * rows[oy * rowFloats + (span.start + k) * channels + c]
                    }
                    output[(oy * outWidth + ox) * channels + c] = sum
                }
            }
        }
    }
}
