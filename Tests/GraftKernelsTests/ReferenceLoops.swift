import GraftKernels

// Plain loops, in Double, that say what each kernel computes. The kernels
// are checked against these, never against themselves.

struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = next() * scale }
        return t
    }
}

/// Convolution with zero padding; returns the outputs and, per output, the
/// sum of |products| (the scale of its rounding error).
func referenceConv(_ g: ConvGeometry, input: Tensor, kernel: Tensor, bias: Tensor?)
    -> (values: [Double], magnitudes: [Double]) {
    var values: [Double] = [], magnitudes: [Double] = []
    for n in 0..<g.batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for co in 0..<g.outChannels {
                    var sum = Double(bias?.data[co] ?? 0), mag = abs(sum)
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = y * g.strideH + ky - g.padTop, ix = x * g.strideW + kx - g.padLeft
                            if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth { continue }
                            for ci in 0..<g.inChannels {
                                let a = Double(input.data[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci])
                                let w = Double(kernel.data[((ky * g.kernelWidth + kx) * g.inChannels + ci) * g.outChannels + co])
                                sum += a * w
                                mag += abs(a * w)
                            }
                        }
                    }
                    values.append(sum)
                    magnitudes.append(mag)
                }
            }
        }
    }
    return (values, magnitudes)
}

/// `referenceConv` followed by the full epilogue: + residual, then ReLU.
func referenceConvResidualReLU(_ g: ConvGeometry, input: Tensor, kernel: Tensor, bias: Tensor, residual: Tensor)
    -> (values: [Double], magnitudes: [Double]) {
    let plain = referenceConv(g, input: input, kernel: kernel, bias: bias)
    return (plain.values.enumerated().map { max($1 + Double(residual.data[$0]), 0) },
            plain.magnitudes.enumerated().map { $1 + abs(Double(residual.data[$0])) })
}

func referenceMaxPool(_ g: ConvGeometry, input: Tensor) -> [Float] {
    var out: [Float] = []
    for n in 0..<g.batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for c in 0..<g.inChannels {
                    var best = -Float.infinity
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = y * g.strideH + ky - g.padTop, ix = x * g.strideW + kx - g.padLeft
                            let v: Float = (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth)
                                ? 0 : input.data[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + c]
                            best = max(best, v)
                        }
                    }
                    out.append(best)
                }
            }
        }
    }
    return out
}

/// Largest error of `actual` against `expected`, relative to each value's
/// rounding-error scale `magnitudes`.
func worstRelativeError(_ actual: UnsafePointer<Float>, _ expected: [Double], _ magnitudes: [Double]) -> Double {
    var worst = 0.0
    for i in 0..<expected.count {
        worst = max(worst, abs(Double(actual[i]) - expected[i]) / max(magnitudes[i], 1e-30))
    }
    return worst
}

/// Calls `body` with the indices of the input value, kernel weight and
/// output value of every product input·kernel the convolution `g` sums
/// (padding contributes none).
func forEachConvolutionProduct(_ g: ConvGeometry, _ body: (_ input: Int, _ kernel: Int, _ output: Int) -> Void) {
    for n in 0..<g.batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let iy = y * g.strideH + ky - g.padTop, ix = x * g.strideW + kx - g.padLeft
                        if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth { continue }
                        for ci in 0..<g.inChannels {
                            let input = ((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci
                            for co in 0..<g.outChannels {
                                body(input, ((ky * g.kernelWidth + kx) * g.inChannels + ci) * g.outChannels + co,
                                     ((n * g.outHeight + y) * g.outWidth + x) * g.outChannels + co)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The gradient of `referenceConv`'s input, given the gradient of its
/// output `dOutput`: each product a·w sends dY·w back to the input value a
/// came from. Returns the values and their rounding-error scales.
func referenceConvInputGradient(_ g: ConvGeometry, kernel: Tensor, dOutput: Tensor)
    -> (values: [Double], magnitudes: [Double]) {
    let count = g.batch * g.inHeight * g.inWidth * g.inChannels
    var values = [Double](repeating: 0, count: count), magnitudes = [Double](repeating: 0, count: count)
    forEachConvolutionProduct(g) { input, weight, output in
        let term = Double(dOutput.data[output]) * Double(kernel.data[weight])
        values[input] += term
        magnitudes[input] += abs(term)
    }
    return (values, magnitudes)
}

/// The gradient of `referenceConv`'s kernel (HWIO), given the gradient of
/// its output: each product a·w sends a·dY back to w.
func referenceConvKernelGradient(_ g: ConvGeometry, input: Tensor, dOutput: Tensor)
    -> (values: [Double], magnitudes: [Double]) {
    let count = g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels
    var values = [Double](repeating: 0, count: count), magnitudes = [Double](repeating: 0, count: count)
    forEachConvolutionProduct(g) { value, weight, output in
        let term = Double(input.data[value]) * Double(dOutput.data[output])
        values[weight] += term
        magnitudes[weight] += abs(term)
    }
    return (values, magnitudes)
}
