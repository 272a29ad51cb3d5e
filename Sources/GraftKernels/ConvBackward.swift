extension Conv2D {
    /// Floats of workspace `backward` needs: per worker, a kernel-gradient
    /// accumulator, and the im2col rows of one image and their gradient.
    public static func backwardWorkspaceSize(_ g: ConvGeometry, threads: Int) -> Int {
        let rows = g.outHeight * g.outWidth
        return max(1, threads) * (g.patchSize * g.outChannels + 2 * rows * g.patchSize)
    }

    /// Gradients of a convolution, from the gradient of its output `dOutput`
    /// (outPixels × outChannels):
    /// - `dInput` (if given) is overwritten with the input's gradient;
    /// - `dKernel` and `dBias` (if given) get the kernel's and bias's
    ///   gradients added (HWIO, as the kernel).
    ///
    /// Work is split by image, so that the scatter of the input gradient
    /// (col2im) never has two workers on one pixel. Each worker takes a fixed
    /// range of images and sums its own kernel gradient; the sums are added
    /// in worker order, so the result does not depend on thread timing.
    public static func backward(_ g: ConvGeometry, input: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                                dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?,
                                dKernel: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                workspace: UnsafeMutablePointer<Float>, threads: Int) {
        Parallel.configureBLAS()
        let k = g.patchSize, n = g.outChannels
        let rows = g.outHeight * g.outWidth
        let imageFloats = g.inHeight * g.inWidth * g.inChannels
        let workers = max(1, min(threads, g.batch))
        let perWorker = k * n + 2 * rows * k
        for w in 0..<workers where dKernel != nil {
            (workspace + w * perWorker).update(repeating: 0, count: k * n)
        }
        if let dInput { dInput.update(repeating: 0, count: g.batch * imageFloats) }

        func backwardImage(_ image: Int, partial: UnsafeMutablePointer<Float>) {
            let cols = partial + k * n, dCols = cols + rows * k
            let dY = dOutput + image * rows * n
            var single = g
            single.batch = 1
            let x = input + image * imageFloats
            let a: UnsafePointer<Float>
            if g.isPointwise {
                a = x
            } else {
                im2col(single, input: x, rows: 0..<rows, into: cols)
                a = UnsafePointer(cols)
            }
            if dKernel != nil {
                // dW += colsᵀ · dY
                gemm(m: k, n: n, k: rows, a: a, lda: k, transposeA: true, b: dY, ldb: n,
                     c: partial, ldc: n, accumulate: true)
            }
            guard let dInput else { return }
            let dX = dInput + image * imageFloats
            if g.isPointwise {
                // dX = dY · Wᵀ
                gemm(m: rows, n: k, k: n, a: dY, lda: n, b: kernel, ldb: n, transposeB: true, c: dX, ldc: k)
            } else {
                gemm(m: rows, n: k, k: n, a: dY, lda: n, b: kernel, ldb: n, transposeB: true, c: dCols, ldc: k)
                col2imAdd(single, dCols: dCols, into: dX)
            }
        }
        let ranges = evenSplit(g.batch, parts: workers, multiple: 1)
        Parallel.forEach(ranges.count, threads: workers) { worker, _ in
            for image in ranges[worker] {
                backwardImage(image, partial: workspace + worker * perWorker)
            }
        }

        if let dKernel {
            for w in 0..<workers {
                let partial = workspace + w * perWorker
                for i in 0..<(k * n) { dKernel[i] += partial[i] }
            }
        }
        if let dBias {
            for p in 0..<(g.batch * rows) {
                let row = dOutput + p * n
                for c in 0..<n { dBias[c] += row[c] }
            }
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
