/// Max pooling over an NHWC batch. `g` gives the window (kernel size), the
/// strides and zero padding; channels pass through (`g.outChannels` is
/// ignored). A padded position counts as the value 0, as when Keras's
/// ZeroPadding2D precedes a "valid" MaxPooling2D (ResNet's `pool1_pad`,
/// `pool1_pool`): so the padding needs no copy of the input. NaN inputs are
/// passed over as TensorFlow's MaxPool passes them over: a window of NaN
/// alone gives -Float.greatestFiniteMagnitude, its starting value.
public func maxPool2D(_ g: ConvGeometry, input: UnsafePointer<Float>,
                      output: UnsafeMutablePointer<Float>, threads: Int) {
    let (oh, ow, c) = (g.outHeight, g.outWidth, g.inChannels)
    Parallel.forEach(g.batch * oh, threads: threads) { row, _ in
        let n = row / oh, y = row % oh
        for x in 0..<ow {
            let out = output + ((n * oh + y) * ow + x) * c
            out.update(repeating: -Float.greatestFiniteMagnitude, count: c)
            var sawPadding = false
            for ky in 0..<g.kernelHeight {
                let iy = y * g.strideH + ky - g.padTop
                for kx in 0..<g.kernelWidth {
                    let ix = x * g.strideW + kx - g.padLeft
                    if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth {
                        sawPadding = true
                        continue
                    }
                    maximum(into: out, input + ((n * g.inHeight + iy) * g.inWidth + ix) * c, count: c)
                }
            }
            if sawPadding { relu(input: out, count: c, output: out) }
        }
    }
}

/// out = max(out, x), elementwise, eight lanes at a time; a NaN in x is
/// never taken.
@inline(__always)
private func maximum(into out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    typealias V = SIMD8<Float>
    let o = UnsafeMutableRawPointer(out), s = UnsafeRawPointer(x)
    var j = 0
    while j + 8 <= count {
        let a = o.loadUnaligned(fromByteOffset: j * 4, as: V.self)
        let b = s.loadUnaligned(fromByteOffset: j * 4, as: V.self)
        o.storeBytes(of: a.replacing(with: b, where: b .> a), toByteOffset: j * 4, as: V.self)
        j += 8
    }
    while j < count {
        if x[j] > out[j] { out[j] = x[j] }
        j += 1
    }
}

/// Mean over height and width of an NHWC batch: (n, h, w, c) -> (n, c).
public func globalAveragePool(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                              channels: Int, output: UnsafeMutablePointer<Float>) {
    let pixels = height * width
    for n in 0..<batch {
        let out = output + n * channels
        out.update(repeating: 0, count: channels)
        let image = input + n * pixels * channels
        for p in 0..<pixels {
            let src = image + p * channels
            for ch in 0..<channels { out[ch] += src[ch] }
        }
        let scale = 1 / Float(pixels)
        for ch in 0..<channels { out[ch] *= scale }
    }
}
