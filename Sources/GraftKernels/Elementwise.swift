import CGraftElementwise

/// y = max(x, 0), elementwise (in place when input == output).
public func relu(input: UnsafePointer<Float>, count: Int, output: UnsafeMutablePointer<Float>) {
    for i in 0..<count {
        let x = input[i]
        output[i] = x < 0 ? 0 : x
    }
}

/// y = a + b, elementwise; with `relu`, max(a + b, 0).
public func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                output: UnsafeMutablePointer<Float>, relu: Bool = false) {
    if relu {
        for i in 0..<count { output[i] = max(a[i] + b[i], 0) }
    } else {
        for i in 0..<count { output[i] = a[i] + b[i] }
    }
}

/// y = a′ + b′ over `pixels` rows of `channels` values, where each operand is
/// as stored or, with its normalisation, x·scale + shift per channel (the
/// BatchNormalization before the Add, applied as it is read, with the same
/// roundings as its own pass); with `relu`, max(y, 0). With `streamed`, y
/// goes to memory past the caches (see `streamsOutput(floats:)`).
public func add(_ a: UnsafePointer<Float>, normalizedBy aNormalization: BatchNormAffine?,
                _ b: UnsafePointer<Float>, normalizedBy bNormalization: BatchNormAffine?,
                pixels: Int, channels: Int, output: UnsafeMutablePointer<Float>, relu: Bool, streamed: Bool = false) {
    BatchNormAffine.withAffine(aNormalization) { aScale, aShift in
        BatchNormAffine.withAffine(bNormalization) { bScale, bShift in
            graft_add_normalized(pixels, channels, a, aScale, aShift, b, bScale, bShift, output, relu ? 1 : 0,
                                 streamed ? 1 : 0)
        }
    }
}

/// Keras's Dense: y = x·kernel + bias, with x (batch × inputs) and the kernel
/// (inputs × units) as Keras stores it.
public func dense(input: UnsafePointer<Float>, batch: Int, inputs: Int,
                  kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, units: Int,
                  output: UnsafeMutablePointer<Float>) {
    BLAS.ensureLoaded()
    gemm(m: batch, n: units, k: inputs, a: input, lda: inputs, b: kernel, ldb: units,
         c: output, ldc: units)
    Epilogue(bias: bias).apply(to: output, channels: units, rows: 0..<batch, columns: 0..<units)
}

/// The smallest and largest of `values` (at least one); the smallest is
/// NaN when one of them is.
public func extremes(_ values: UnsafeBufferPointer<Float>) -> (low: Float, high: Float) {
    precondition(!values.isEmpty)
    var low: Float = 0, high: Float = 0
    graft_extremes(values.count, values.baseAddress!, &low, &high)
    return (low, high)
}
