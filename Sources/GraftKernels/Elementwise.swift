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
/// roundings as its own pass); with `relu`, max(y, 0).
public func add(_ a: UnsafePointer<Float>, normalizedBy aNormalization: BatchNormAffine?,
                _ b: UnsafePointer<Float>, normalizedBy bNormalization: BatchNormAffine?,
                pixels: Int, channels: Int, output: UnsafeMutablePointer<Float>, relu: Bool) {
    typealias V = SIMD16<Float>
    typealias Affine = (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>)
    let stride = MemoryLayout<Float>.stride
    /// Operand `x` at float `at` (channel `c`), normalised if asked.
    @inline(__always) func vector(_ x: UnsafePointer<Float>, _ affine: Affine?, _ at: Int, _ c: Int) -> V {
        let value = UnsafeRawPointer(x).loadUnaligned(fromByteOffset: at * stride, as: V.self)
        guard let affine else { return value }
        return value * UnsafeRawPointer(affine.scale).loadUnaligned(fromByteOffset: c * stride, as: V.self)
            + UnsafeRawPointer(affine.shift).loadUnaligned(fromByteOffset: c * stride, as: V.self)
    }
    @inline(__always) func scalar(_ x: UnsafePointer<Float>, _ affine: Affine?, _ at: Int, _ c: Int) -> Float {
        guard let affine else { return x[at] }
        return x[at] * affine.scale[c] + affine.shift[c]
    }
    func run(_ aAffine: Affine?, _ bAffine: Affine?) {
        for p in 0..<pixels {
            let row = p * channels
            var c = 0
            while c + V.scalarCount <= channels {
                var y = vector(a, aAffine, row + c, c) + vector(b, bAffine, row + c, c)
                if relu { y = y.replacing(with: 0, where: y .< 0) }
                UnsafeMutableRawPointer(output).storeBytes(of: y, toByteOffset: (row + c) * stride, as: V.self)
                c += V.scalarCount
            }
            while c < channels {
                let y = scalar(a, aAffine, row + c, c) + scalar(b, bAffine, row + c, c)
                output[row + c] = relu ? max(y, 0) : y
                c += 1
            }
        }
    }
    func withAffine(_ normalization: BatchNormAffine?, _ body: (Affine?) -> Void) {
        guard let normalization else { return body(nil) }
        normalization.scale.withUnsafeBufferPointer { scale in
            normalization.shift.withUnsafeBufferPointer { shift in body((scale.baseAddress!, shift.baseAddress!)) }
        }
    }
    withAffine(aNormalization) { aAffine in withAffine(bNormalization) { bAffine in run(aAffine, bAffine) } }
}

/// Keras's Dense: y = x·kernel + bias, with x (batch × inputs) and the kernel
/// (inputs × units) as Keras stores it.
public func dense(input: UnsafePointer<Float>, batch: Int, inputs: Int,
                  kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, units: Int,
                  output: UnsafeMutablePointer<Float>) {
    Parallel.configureBLAS()
    gemm(m: batch, n: units, k: inputs, a: input, lda: inputs, b: kernel, ldb: units,
         c: output, ldc: units)
    Epilogue(bias: bias).apply(to: output, channels: units, rows: 0..<batch, columns: 0..<units)
}
