extension Conv2D {
    /// Images whose rows one worker multiplies at once. A pointwise
    /// convolution multiplies its input and dY in place: as many images as
    /// keep their rows of both within about 512 KiB, so that the input
    /// gradient's product finds the dY rows that the kernel gradient's has
    /// just read still in L2. Where the kernel gradient's sum (read and
    /// written once per group) outgrows a quarter of L2, as conv4_x's and
    /// conv5_x's do, at least as many images as make it at most half the
    /// traffic of the rows (K ≥ 4·k·n/(k + n)). (bench/HISTORY.md has the
    /// measurements of both.)
    /// Otherwise, enough im2col rows to make the GEMMs efficient (a 4x4
    /// feature map alone gives 16), within about 8 MiB of rows and row
    /// gradients.
    static func backwardGroup(_ g: ConvGeometry) -> Int {
        let rows = g.outHeight * g.outWidth, (k, n) = (g.patchSize, g.outChannels)
        let images: Int
        if g.isPointwise {
            let cached = (1 << 17) / max(rows * (k + n), 1)
            let amortized = k * n <= 1 << 16 ? 1 : (4 * k * n / max(k + n, 1) + rows - 1) / max(rows, 1)
            images = max(cached, amortized)
        } else {
            images = (1 << 21) / max(2 * rows * k, 1)
        }
        return max(1, min(g.batch, images))
    }

    /// Floats of scratch one worker of `backward` takes: a kernel-gradient
    /// sum (worker 0 sums into the gradient itself), and unless pointwise,
    /// the im2col rows of a group of images and their gradient.
    static func backwardWorkerFloats(_ g: ConvGeometry) -> Int {
        let im2colRows = g.isPointwise ? 0 : backwardGroup(g) * g.outHeight * g.outWidth
        return g.patchSize * g.outChannels + 2 * im2colRows * g.patchSize
    }

    /// Floats of workspace `backward` needs.
    public static func backwardWorkspaceSize(_ g: ConvGeometry, threads: Int) -> Int {
        max(1, threads) * backwardWorkerFloats(g)
    }

    /// Gradients of a convolution, from the gradient of its output `dOutput`
    /// (outPixels × outChannels):
    /// - `dInput` (if given) is overwritten with the input's gradient;
    /// - `dKernel` (if given) is overwritten with the kernel's gradient
    ///   (HWIO, as the kernel), or has it added with `accumulateKernel` (a
    ///   micro-batch's gradient summed into its batch's);
    /// - `dBias` (if given) gets the bias's gradient added.
    ///
    /// With `packedTranspose` (the kernel's transpose packed for Graft's own
    /// GEMM), the input gradient's product runs there.
    ///
    /// With `outputScale` (outChannels floats), the gradients are those of
    /// dOutput with output channel c scaled by outputScale[c] (as a
    /// BatchNormalization after the convolution hands its gradient back,
    /// dY·scale) without that product ever being written: the kernel and
    /// bias gradients are scaled at the end, and the input gradient
    /// multiplies by the kernel with its output channels scaled alike
    /// (`packedTranspose` must then be packed with `rowScale: outputScale`).
    ///
    /// Work is split by image, so that the scatter of the input gradient
    /// (col2im) never has two workers on one pixel. Each worker takes a fixed
    /// range of images, in groups, and sums its own kernel gradient, worker 0
    /// in `dKernel` itself (unless its sum is yet to be scaled onto what
    /// `dKernel` holds); the other sums are added to it in worker order, so
    /// the result does not depend on thread timing.
    public static func backward(_ g: ConvGeometry, input: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                                packedTranspose: PackedKernel? = nil,
                                dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?,
                                dKernel: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                outputScale: UnsafePointer<Float>? = nil, accumulateKernel: Bool = false,
                                workspace: UnsafeMutablePointer<Float>, threads: Int) {
        BLAS.ensureLoaded()
        let k = g.patchSize, n = g.outChannels
        let rows = g.outHeight * g.outWidth
        let imageFloats = g.inHeight * g.inWidth * g.inChannels
        let workers = max(1, min(threads, g.batch))
        let group = Conv2D.backwardGroup(g)
        let perWorker = backwardWorkerFloats(g)
        // The input gradient's B where OpenBLAS multiplies: the kernel, or
        // a copy with its output channels scaled.
        var scaledKernel: UnsafeMutablePointer<Float>?
        if let outputScale, dInput != nil, packedTranspose == nil {
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            for r in 0..<k {
                for c in 0..<n { copy[r * n + c] = kernel[r * n + c] * outputScale[c] }
            }
            scaledKernel = copy
        }
        defer { scaledKernel?.deallocate() }
        let transposeB = UnsafePointer(scaledKernel) ?? kernel

        /// Images `images` (consecutive), with the worker's scratch at
        /// `scratch`; the kernel gradient summed into `sum`, which they
        /// begin when `first`.
        func backwardImages(_ images: Range<Int>, scratch: UnsafeMutablePointer<Float>,
                            sum: UnsafeMutablePointer<Float>, first: Bool) {
            let cols = scratch + k * n, dCols = cols + group * rows * k
            let m = images.count * rows
            let dY = dOutput + images.lowerBound * rows * n
            var single = g
            single.batch = 1
            let a: UnsafePointer<Float>
            if g.isPointwise {
                a = input + images.lowerBound * imageFloats
            } else {
                for (i, image) in images.enumerated() {
                    im2col(single, input: input + image * imageFloats, rows: 0..<rows, into: cols + i * rows * k)
                }
                a = UnsafePointer(cols)
            }
            if dKernel != nil {
                // dW += colsᵀ · dY, on Graft's own Aᵀ·B kernel, which ran
                // faster than OpenBLAS on conv2_x's kernel gradients and on
                // conv3_x's to conv5_x's 1x1 backward passes
                // (bench/HISTORY.md has the measurements).
                gemmTransposedA(m: k, n: n, k: m, a: a, lda: k, b: dY, ldb: n, c: sum, ldc: n, accumulate: !first)
            }
            guard let dInput else { return }
            // dX = dY · Wᵀ, straight into dX for a pointwise convolution,
            // else into im2col rows that col2im then adds up.
            let product = g.isPointwise ? dInput + images.lowerBound * imageFloats : dCols
            if let packedTranspose {
                // A pointwise convolution's input gradient is written whole.
                packedTranspose.multiply(rows: m, a: dY, lda: n, c: product, ldc: k,
                                         streamed: g.isPointwise && streamsOutput(floats: g.batch * imageFloats))
            } else {
                gemm(m: m, n: k, k: n, a: dY, lda: n, b: transposeB, ldb: n, transposeB: true, c: product, ldc: k)
            }
            if !g.isPointwise {
                for (i, image) in images.enumerated() {
                    let dX = dInput + image * imageFloats
                    dX.update(repeating: 0, count: imageFloats)
                    col2imAdd(single, dCols: dCols + i * rows * k, into: dX)
                }
            }
        }
        let ranges = evenSplit(g.batch, parts: workers, multiple: 1)
        // Worker 0 sums into dKernel itself, added to what it holds when
        // accumulating, unless that sum is still to be scaled.
        let scaledOnto = accumulateKernel && outputScale != nil
        Parallel.forEach(ranges.count, threads: workers) { worker, _ in
            let range = ranges[worker], scratch = workspace + worker * perWorker
            let inKernel = worker == 0 && !scaledOnto
            let sum = inKernel ? dKernel ?? scratch : scratch
            for start in stride(from: range.lowerBound, to: range.upperBound, by: group) {
                backwardImages(start..<min(start + group, range.upperBound), scratch: scratch, sum: sum,
                               first: start == range.lowerBound && !(inKernel && accumulateKernel))
            }
        }

        if let dKernel, workers > 1 || outputScale != nil {
            // The other workers' sums added in, and the columns scaled, a
            // row of the kernel gradient at a time.
            Parallel.forRanges(k, threads: threads) { kernelRows, _ in
                for r in kernelRows {
                    let row = dKernel + r * n
                    if scaledOnto, let outputScale {
                        // The workers' sums into worker 0's, then scaled
                        // onto the running sum: two passes that vectorise.
                        let first = workspace + r * n
                        for w in 1..<workers {
                            let partial = workspace + w * perWorker + r * n
                            for c in 0..<n { first[c] += partial[c] }
                        }
                        for c in 0..<n { row[c] += first[c] * outputScale[c] }
                        continue
                    }
                    for w in 1..<workers {
                        let partial = workspace + w * perWorker + r * n
                        for c in 0..<n { row[c] += partial[c] }
                    }
                    if let outputScale {
                        for c in 0..<n { row[c] *= outputScale[c] }
                    }
                }
            }
        }
        if let dBias {
            biasGradient(dOutput: dOutput, pixels: g.batch * rows, channels: n, dBias: dBias, scale: outputScale,
                         threads: threads)
        }
    }

    /// Adds the bias gradient, dY summed over every pixel (times `scale`,
    /// per channel, if given), into `dBias`.
    /// Each thread sums its own range of pixels, reading dY in order, 16
    /// channels at a time, into a row of partial sums that stays in L1; the
    /// rows are then added in thread order, so the result does not depend
    /// on timing. (Splitting the channels instead had each thread read a
    /// strided part of every row, which was much slower: bench/HISTORY.md
    /// has the measurement.)
    public static func biasGradient(dOutput: UnsafePointer<Float>, pixels: Int, channels n: Int,
                                    dBias: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>? = nil,
                                    threads: Int) {
        typealias V = SIMD16<Float>
        let parts = evenSplit(pixels, parts: threads, multiple: 1)
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: parts.count * n)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: parts.count * n)
        Parallel.forEach(parts.count, threads: parts.count) { part, _ in
            let sums = UnsafeMutableRawPointer(partial + part * n)
            for p in parts[part] {
                let row = UnsafeRawPointer(dOutput + p * n)
                var c = 0
                while c + V.scalarCount <= n {
                    let at = c * MemoryLayout<Float>.stride
                    sums.storeBytes(of: sums.loadUnaligned(fromByteOffset: at, as: V.self)
                                        + row.loadUnaligned(fromByteOffset: at, as: V.self),
                                    toByteOffset: at, as: V.self)
                    c += V.scalarCount
                }
                for c in c..<n { partial[part * n + c] += dOutput[p * n + c] }
            }
        }
        for c in 0..<n {
            var sum: Float = 0
            for part in 0..<parts.count { sum += partial[part * n + c] }
            dBias[c] += scale.map { sum * $0[c] } ?? sum
        }
    }

    /// The adjoint of im2col for one image: adds each im2col row's gradient
    /// back onto the input pixels it was copied from (padding drops out).
    static func col2imAdd(_ g: ConvGeometry, dCols: UnsafePointer<Float>, into dX: UnsafeMutablePointer<Float>) {
        let cin = g.inChannels
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                var src = dCols + (y * g.outWidth + x) * g.patchSize
                for ky in 0..<g.kernelHeight {
                    let iy = y * g.strideH + ky - g.padTop
                    for kx in 0..<g.kernelWidth {
                        let ix = x * g.strideW + kx - g.padLeft
                        if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
                            let dst = dX + (iy * g.inWidth + ix) * cin
                            for c in 0..<cin { dst[c] += src[c] }
                        }
                        src += cin
                    }
                }
            }
        }
    }
}
