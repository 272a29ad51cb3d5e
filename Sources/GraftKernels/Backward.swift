import CGraftElementwise
import Glibc

// Gradients of the layers other than convolution. Each takes the gradient of
// the layer's output and writes (or adds) the gradients of its input and
// weights, in the layouts of the forward kernels.

/// ReLU: dX = dY where the forward output was positive, else 0. With
/// `plus`, dY arrives in two terms (the output read by two layers) and
/// dX = dY + plus there, summed in the same pass. In C, as wide as the CPU
/// runs (CGraftElementwise).
public func reluBackward(output: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                         plus: UnsafePointer<Float>? = nil, count: Int, dInput: UnsafeMutablePointer<Float>) {
    graft_relu_backward(count, output, dOutput, plus, dInput)
}

extension BatchNormAffine {
    /// BatchNormalization in inference mode, y = x·scale + shift:
    /// dX = dY·scale (if asked); dGamma += Σ dY·x̂ and dBeta += Σ dY over the
    /// pixels (if asked), with x̂ = (x − mean)/sqrt(variance + epsilon).
    /// With `reluFollows` (a ReLU right after, whose output gradient
    /// `dOutput` then is), dY is that gradient masked by the ReLU, in the
    /// same pass: where x·scale + shift > 0, computed as the forward pass
    /// computed it (so the same units pass), from the input this pass reads
    /// anyway rather than from the ReLU's output.
    ///
    /// One pass over the pixels, sixteen channels at a time. The sums run in
    /// float over blocks of `sumBlock` pixels and in double across blocks (a
    /// long float sum would lose the small terms), per range of pixels,
    /// added in range order, so they do not depend on thread timing.
    public func backward(input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>, pixels: Int,
                         gamma: UnsafePointer<Float>, movingMean: UnsafePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
                         dBeta: UnsafeMutablePointer<Float>?, reluFollows: Bool = false,
                         threads: Int = 1) {
        let c = scale.count
        let sums = dGamma != nil && dBeta != nil
        guard dInput != nil || sums else { return }
        let grain = Parallel.pixelGrain(channels: c)
        let parts = Parallel.ranges(pixels, threads: threads, grain: grain).count
        // Per range: Σ dY, then Σ dY·(x − mean).
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: sums ? parts * 2 * c : 0)
        defer { partial.deallocate() }
        if sums { partial.initialize(repeating: 0, count: parts * 2 * c) }
        scale.withUnsafeBufferPointer { scale in
          shift.withUnsafeBufferPointer { shift in
            Parallel.forRanges(pixels, threads: threads, grain: grain) { range, part in
                let block = UnsafeMutablePointer<Float>.allocate(capacity: sums ? 2 * c : 0)
                defer { block.deallocate() }
                for first in stride(from: range.lowerBound, to: range.upperBound, by: BatchNormAffine.sumBlock) {
                    let pixels = first..<min(first + BatchNormAffine.sumBlock, range.upperBound)
                    if sums { block.initialize(repeating: 0, count: 2 * c) }
                    backwardPixels(pixels, channels: c, input: input, dOutput: dOutput, reluFollows: reluFollows,
                                   scale: scale.baseAddress!, shift: shift.baseAddress!, movingMean: movingMean,
                                   dInput: dInput, sums: sums ? block : nil)
                    guard sums else { continue }
                    let sumDy = partial + part * 2 * c
                    for i in 0..<(2 * c) { sumDy[i] += Double(block[i]) }
                }
            }
            guard let dGamma, let dBeta else { return }
            // x̂ = (x − mean)·scale/gamma, computed without dividing by gamma.
            for ch in 0..<c {
                var sumDy = 0.0, sumDyX = 0.0
                for part in 0..<parts {
                    sumDy += partial[part * 2 * c + ch]
                    sumDyX += partial[part * 2 * c + c + ch]
                }
                let inverseStd = gamma[ch] == 0 ? 0 : Double(scale[ch]) / Double(gamma[ch])
                dGamma[ch] += Float(sumDyX * inverseStd)
                dBeta[ch] += Float(sumDy)
            }
          }
        }
    }

    /// Pixels whose float sums `backward` adds up before moving them to double.
    static let sumBlock = 64

    /// `backward` over `pixels`: dX, and (when `sums` is given) Σ dY added
    /// into its first `c` floats and Σ dY·(x − mean) into the next `c`.
    @inline(__always)
    private func backwardPixels(_ pixels: Range<Int>, channels c: Int, input: UnsafePointer<Float>,
                                dOutput: UnsafePointer<Float>, reluFollows: Bool, scale: UnsafePointer<Float>,
                                shift: UnsafePointer<Float>, movingMean: UnsafePointer<Float>,
                                dInput: UnsafeMutablePointer<Float>?, sums: UnsafeMutablePointer<Float>?) {
        typealias V = SIMD16<Float>
        /// Channels `ch..<ch + V.scalarCount` of pixel `p`.
        @inline(__always) func vector(_ p: Int, _ ch: Int) {
            let at = (p * c + ch) * 4
            // The input, where the mask or the sums read it.
            let x = reluFollows || sums != nil ? UnsafeRawPointer(input).loadUnaligned(fromByteOffset: at, as: V.self)
                                               : V()
            let s = UnsafeRawPointer(scale).loadUnaligned(fromByteOffset: ch * 4, as: V.self)
            var dy = UnsafeRawPointer(dOutput).loadUnaligned(fromByteOffset: at, as: V.self)
            if reluFollows {
                let b = UnsafeRawPointer(shift).loadUnaligned(fromByteOffset: ch * 4, as: V.self)
                dy = V(repeating: 0).replacing(with: dy, where: x * s + b .> 0)
            }
            if let dInput {
                UnsafeMutableRawPointer(dInput).storeBytes(of: dy * s, toByteOffset: at, as: V.self)
            }
            guard let sums else { return }
            let mean = UnsafeRawPointer(movingMean).loadUnaligned(fromByteOffset: ch * 4, as: V.self)
            let sumDy = UnsafeMutableRawPointer(sums + ch), sumDyX = UnsafeMutableRawPointer(sums + c + ch)
            sumDy.storeBytes(of: sumDy.loadUnaligned(as: V.self) + dy, as: V.self)
            sumDyX.storeBytes(of: sumDyX.loadUnaligned(as: V.self) + dy * (x - mean), as: V.self)
        }
        /// The same for one channel (those past the last whole vector).
        @inline(__always) func scalar(_ p: Int, _ ch: Int) {
            let i = p * c + ch
            let dy = !reluFollows || input[i] * scale[ch] + shift[ch] > 0 ? dOutput[i] : 0
            dInput?[i] = dy * scale[ch]
            guard let sums else { return }
            sums[ch] += dy
            sums[c + ch] += dy * (input[i] - movingMean[ch])
        }
        let vectorChannels = c - c % V.scalarCount
        for p in pixels {
            for ch in stride(from: 0, to: vectorChannels, by: V.scalarCount) { vector(p, ch) }
            for ch in vectorChannels..<c { scalar(p, ch) }
        }
    }
}

/// Max pooling: each output's gradient goes to the input position that gave
/// the maximum — the first one in the window's row-major order, as
/// TensorFlow's MaxPoolGrad picks it. `dInput` is overwritten.
public func maxPool2DBackward(_ g: ConvGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                              dInput: UnsafeMutablePointer<Float>, threads: Int = 1) {
    precondition(g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0,
                 "training runs ZeroPadding2D as its own layer")
    typealias V = SIMD16<Float>
    let c = g.inChannels, window = g.kernelHeight * g.kernelWidth
    // One image per task: windows overlap within an image, never across.
    Parallel.forEach(g.batch, threads: threads) { n, _ in
        let image = input + n * g.inHeight * g.inWidth * c
        let dImage = dInput + n * g.inHeight * g.inWidth * c
        dImage.update(repeating: 0, count: g.inHeight * g.inWidth * c)
        /// Offset (in pixels, within the image) of window position w of output (y, x).
        func pixel(_ y: Int, _ x: Int, _ w: Int) -> Int {
            (y * g.strideH + w / g.kernelWidth) * g.inWidth + x * g.strideW + w % g.kernelWidth
        }
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                let dy = dOutput + ((n * g.outHeight + y) * g.outWidth + x) * c
                var ch = 0
                // Sixteen channels at a time: the best value and the window
                // position holding it, the first one on ties.
                while ch + V.scalarCount <= c {
                    let raw = UnsafeRawPointer(image + ch)
                    var best = raw.loadUnaligned(fromByteOffset: pixel(y, x, 0) * c * 4, as: V.self)
                    var at = SIMD16<Int32>(repeating: 0)
                    for w in 1..<max(window, 1) {
                        let v = raw.loadUnaligned(fromByteOffset: pixel(y, x, w) * c * 4, as: V.self)
                        let better = v .> best
                        best.replace(with: v, where: better)
                        at.replace(with: Int32(w), where: better)
                    }
                    for lane in 0..<V.scalarCount {
                        dImage[pixel(y, x, Int(at[lane])) * c + ch + lane] += dy[ch + lane]
                    }
                    ch += V.scalarCount
                }
                while ch < c {
                    var best = image[pixel(y, x, 0) * c + ch], at = 0
                    for w in 1..<max(window, 1) where image[pixel(y, x, w) * c + ch] > best {
                        best = image[pixel(y, x, w) * c + ch]
                        at = w
                    }
                    dImage[pixel(y, x, at) * c + ch] += dy[ch]
                    ch += 1
                }
            }
        }
    }
}

/// ZeroPadding2D: the input's gradient is the middle of the output's.
public func zeroPad2DBackward(dOutput: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
                              top: Int, left: Int, outHeight: Int, outWidth: Int,
                              dInput: UnsafeMutablePointer<Float>, threads: Int) {
    Parallel.forEach(batch, threads: threads) { n, _ in
        for y in 0..<height {
            let src = dOutput + ((n * outHeight + y + top) * outWidth + left) * channels
            (dInput + ((n * height + y) * width) * channels).update(from: src, count: width * channels)
        }
    }
}

/// GlobalAveragePooling2D: each pixel gets its channel's gradient / (h·w).
public func globalAveragePoolBackward(dOutput: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                                      channels: Int, dInput: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(height * width)
    for n in 0..<batch {
        let dy = dOutput + n * channels
        for p in 0..<(height * width) {
            let dx = dInput + (n * height * width + p) * channels
            for c in 0..<channels { dx[c] = dy[c] * scale }
        }
    }
}

/// Dense, y = x·kernel + bias: dKernel += xᵀ·dY, dBias += Σ dY (if asked);
/// dX = dY·kernelᵀ (if asked).
public func denseBackward(input: UnsafePointer<Float>, batch: Int, inputs: Int, kernel: UnsafePointer<Float>,
                          units: Int, dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?,
                          dKernel: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?) {
    BLAS.ensureLoaded()
    if let dKernel {
        gemm(m: inputs, n: units, k: batch, a: input, lda: inputs, transposeA: true, b: dOutput, ldb: units,
             c: dKernel, ldc: units, accumulate: true)
    }
    if let dBias {
        for n in 0..<batch {
            for u in 0..<units { dBias[u] += dOutput[n * units + u] }
        }
    }
    if let dInput {
        gemm(m: batch, n: inputs, k: units, a: dOutput, lda: units, b: kernel, ldb: units, transposeB: true,
             c: dInput, ldc: inputs)
    }
}

/// Categorical cross-entropy from logits with integer labels, averaged over
/// the batch (Keras's SparseCategoricalCrossentropy(from_logits=True), and
/// CategoricalCrossentropy on one-hot labels): returns the loss and the number
/// of correct argmax predictions, and writes dLogits = (softmax − onehot)/batch.
/// Computed through log-sum-exp, so large logits do not overflow.
///
/// `meanOver` (default: `batch`) is the batch the mean is taken over: a part
/// of a larger batch (a micro-batch) gives its share of that batch's loss and
/// gradient, which summed over the parts are the whole batch's.
///
/// `weights` (one per image) scale each image's loss and gradient, summed
/// then divided by `meanOver` (Keras's "sum_over_batch_size" with sample or
/// class weights); `labelSmoothing` ε makes the target (1 − ε)·one-hot +
/// ε/classes (Keras's CategoricalCrossentropy(label_smoothing=ε)).
public func softmaxCrossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                classes: Int, dLogits: UnsafeMutablePointer<Float>?, meanOver: Int? = nil,
                                weights: UnsafePointer<Float>? = nil, labelSmoothing: Double = 0)
    -> (loss: Double, correct: Int) {
    let meanOver = Double(meanOver ?? batch)
    // Keras's label smoothing: the target is (1 − ε)·one-hot + ε/classes.
    let spread = labelSmoothing / Double(classes), keep = 1 - labelSmoothing
    var loss = 0.0, correct = 0
    for n in 0..<batch {
        let z = logits + n * classes
        var largest = z[0], argmax = 0
        for c in 1..<max(classes, 1) where z[c] > largest {
            largest = z[c]
            argmax = c
        }
        var sum = 0.0, shifted = 0.0
        for c in 0..<classes {
            sum += exp(Double(z[c] - largest))
            shifted += Double(z[c] - largest)
        }
        let label = Int(labels[n])
        let weight = weights.map { Double($0[n]) } ?? 1
        // −Σ target·log softmax, the log-softmax being z − largest − log(sum).
        let target = labelSmoothing == 0 ? Double(z[label] - largest)
            : keep * Double(z[label] - largest) + spread * shifted
        loss += weight * (log(sum) - target)
        if argmax == label { correct += 1 }
        if let dLogits {
            let d = dLogits + n * classes
            for c in 0..<classes {
                let p = exp(Double(z[c] - largest)) / sum
                let y = (c == label ? keep : 0) + spread
                d[c] = Float(weight * (p - y) / meanOver)
            }
        }
    }
    return (loss / meanOver, correct)
}

/// Binary cross-entropy from one logit per image with labels 0 or 1,
/// averaged over the batch (Keras's BinaryCrossentropy(from_logits=True)):
/// returns the loss and the number of images whose prediction, 1 when the
/// logit is above `threshold` (Keras's BinaryAccuracy compares the model's
/// output, here the logit, with it), equals the label; writes
/// dLogits = (sigmoid(z) − y)/batch. Each term is computed as
/// max(z, 0) − z·y + log(1 + e^−|z|), which neither overflows nor loses
/// the small terms of large logits.
///
/// `meanOver` and `weights` as `softmaxCrossEntropy`'s; `labelSmoothing` ε
/// makes the target y·(1 − ε) + ε/2 (Keras's label_smoothing).
public func sigmoidCrossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                dLogits: UnsafeMutablePointer<Float>?, meanOver: Int? = nil,
                                weights: UnsafePointer<Float>? = nil, labelSmoothing: Double = 0,
                                threshold: Float = 0.5) -> (loss: Double, correct: Int) {
    let meanOver = Double(meanOver ?? batch)
    var loss = 0.0, correct = 0
    for n in 0..<batch {
        let z = Double(logits[n])
        let y = Double(labels[n]) * (1 - labelSmoothing) + labelSmoothing / 2
        let weight = weights.map { Double($0[n]) } ?? 1
        loss += weight * (max(z, 0) - z * y + log1p(exp(-abs(z))))
        if (logits[n] > threshold ? 1 : 0) == labels[n] { correct += 1 }
        if let dLogits {
            let sigmoid = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
            dLogits[n] = Float(weight * (sigmoid - y) / meanOver)
        }
    }
    return (loss / meanOver, correct)
}
