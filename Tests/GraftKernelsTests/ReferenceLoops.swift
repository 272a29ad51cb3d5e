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

/// The gradient of `referenceConv`'s input, given the gradient of its
/// output `dOutput`: each product a·w sends dY·w back to the input value a
/// came from. Returns the values and their rounding-error scales.
func referenceConvInputGradient(_ g: ConvGeometry, kernel: Tensor, dOutput: Tensor)
    -> (values: [Double], magnitudes: [Double]) {
    let count = g.batch * g.inHeight * g.inWidth * g.inChannels
    var values = [Double](repeating: 0, count: count), magnitudes = [Double](repeating: 0, count: count)
    for n in 0..<g.batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let iy = y * g.strideH + ky - g.padTop, ix = x * g.strideW + kx - g.padLeft
                        if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth { continue }
                        for ci in 0..<g.inChannels {
                            let at = ((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci
                            for co in 0..<g.outChannels {
                                let dy = Double(dOutput.data[((n * g.outHeight + y) * g.outWidth + x) * g.outChannels + co])
                                let w = Double(kernel.data[((ky * g.kernelWidth + kx) * g.inChannels + ci) * g.outChannels + co])
                                values[at] += dy * w
                                magnitudes[at] += abs(dy * w)
                            }
                        }
                    }
                }
            }
        }
    }
    return (values, magnitudes)
}

/// The gradient of `referenceConv`'s kernel (HWIO), given the gradient of
/// its output, with the sum of the magnitudes of its terms.
func referenceConvKernelGradient(_ g: ConvGeometry, input: Tensor, dOutput: Tensor)
    -> (values: [Double], magnitudes: [Double]) {
    let count = g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels
    var values = [Double](repeating: 0, count: count), magnitudes = [Double](repeating: 0, count: count)
    for n in 0..<g.batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let iy = y * g.strideH + ky - g.padTop, ix = x * g.strideW + kx - g.padLeft
                        if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth { continue }
                        for ci in 0..<g.inChannels {
                            let v = Double(input.data[((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + ci])
                            for co in 0..<g.outChannels {
                                let dy = Double(dOutput.data[((n * g.outHeight + y) * g.outWidth + x) * g.outChannels + co])
                                let at = ((ky * g.kernelWidth + kx) * g.inChannels + ci) * g.outChannels + co
                                values[at] += v * dy
                                magnitudes[at] += abs(v * dy)
                            }
                        }
                    }
                }
            }
        }
    }
    return (values, magnitudes)
}
