import CGraftGEMM
import CGraftWinograd

/// The two tilings of Winograd's minimal filtering F(m×m, 3x3) (Lavin &
/// Gray, 2015) that `Winograd3x3` runs.
public enum WinogradTile: Sendable, CaseIterable, CustomStringConvertible {
    /// F(2x2, 3x3): each 2x2 block of output pixels from a 4x4 block of
    /// input, through 16 products per channel pair instead of 36 (2.25x
    /// fewer). Its transforms add, subtract and halve.
    case f2x2
    /// F(4x4, 3x3): each 4x4 block of output from a 6x6 block of input,
    /// through 36 products instead of 144 (4x fewer), but with a kernel
    /// transform 2.25x larger and coefficients up to 8, so more rounding.
    case f4x4

    /// Output pixels per block side (m).
    public var outputSize: Int { self == .f2x2 ? 2 : 4 }
    /// Input pixels per block side (m + 2).
    public var blockSize: Int { outputSize + 2 }
    /// Products per channel pair and block: the number of GEMMs.
    public var matrices: Int { blockSize * blockSize }

    public var description: String { "F(\(outputSize)x\(outputSize), 3x3)" }
}

/// 3x3, stride-1, "same" convolution by Winograd's minimal filtering. The
/// products of a block are `tile.matrices` independent GEMMs, (blocks × C)·
/// (C × K), one per position ξ of the transformed block, so a tuned GEMM
/// still does the arithmetic:
///
///   kernel:  U = G g Gᵀ          (per channel pair)
///   input:   V = Bᵀ d B          (per input block and channel)
///   output:  Y = Aᵀ (U ⊙ V) A    (summed over channels by the GEMMs)
///
/// (the transforms are in CGraftWinograd). The parity tests hold
/// both tilings to the same bars as the direct method.
public enum Winograd3x3 {
    /// Input channels per turn of a kernel transform (each is 9·K taps in,
    /// m²·K out): enough work to be worth a thread.
    private static let channelGrain = 64
    /// Blocks per turn of the kernel gradient's gathering pass.
    private static let blockGrain = 16
    /// Whether `g` is a convolution this path computes: 3x3, stride 1, one
    /// pixel of zero padding on every side, channel counts a multiple of 8
    /// (the transforms run eight channels at a time).
    public static func applies(to g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideH == 1 && g.strideW == 1
            && g.padTop == 1 && g.padBottom == 1 && g.padLeft == 1 && g.padRight == 1
            && g.inChannels % 8 == 0 && g.outChannels % 8 == 0
    }

    /// The tiling to run `g` with: F(4x4) where the batch has at least 64
    /// of its blocks (32 where the kernel's transform is made once, as in
    /// inference, rather than at every training step), F(2x2) below that.
    /// With fewer blocks, each GEMM has too few rows to pay for reading U's
    /// 36 matrices (36·C·K floats). At batch 32 on 100x100 images, in
    /// training, F(4x4) ran conv2_x to conv4_x's convolutions (1,568 to 128
    /// blocks) faster and conv5_x's (32 blocks, C = K = 512) slower; in
    /// inference, conv5_x's faster too (bench/HISTORY.md has the
    /// measurements).
    public static func tile(for g: ConvGeometry, training: Bool) -> WinogradTile {
        blocks(g, .f4x4) >= (training ? 64 : 32) ? .f4x4 : .f2x2
    }

    /// Blocks of `tile` covering the output of `g` (its edge blocks partly
    /// past the image).
    static func blocks(_ g: ConvGeometry, _ tile: WinogradTile) -> Int {
        let m = tile.outputSize
        return g.batch * ((g.inHeight + m - 1) / m) * ((g.inWidth + m - 1) / m)
    }

    /// U = G g Gᵀ for every (input, output) channel pair of an HWIO 3x3
    /// kernel, laid out as `tile.matrices` matrices C × K, the B of the
    /// GEMMs. The output channels are contiguous in both layouts, so the
    /// inner loop runs along them.
    public static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                       tile: WinogradTile) -> Tensor {
        let u = Tensor(shape: [tile.matrices, c, k])
        transformKernel(kernel, inChannels: c, outChannels: k, tile: tile, into: u.data, threads: 1)
        return u
    }

    /// The same into `u` (`tile.matrices`·C·K floats), input channels split
    /// over threads (training transforms the kernel again after every step).
    public static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                       tile: WinogradTile, into u: UnsafeMutablePointer<Float>, threads: Int) {
        transformKernel(kernel, inChannels: c, outChannels: k, tile: tile, into: u, panels: false, threads: threads)
    }

    /// U's matrices transformed straight into the float32 panel layout of
    /// Graft's own GEMM (as `packTransformedKernel` would pack them) in
    /// `storage` (`tile.matrices`·C·K floats), which the result keeps alive:
    /// one pass where transforming and then packing takes two. Nil where
    /// that GEMM does not apply.
    public static func transformKernelPacked(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                             tile: WinogradTile, into storage: Tensor,
                                             threads: Int) -> [PackedKernel]? {
        guard PackedKernel.applies(rows: c, columns: k) else { return nil }
        precondition(storage.count >= tile.matrices * c * k)
        transformKernel(kernel, inChannels: c, outChannels: k, tile: tile, into: storage.data, panels: true,
                        threads: threads)
        return (0..<tile.matrices).map {
            PackedKernel(rows: c, columns: k, precision: .float32, storage: storage, offset: $0 * c * k)
        }
    }

    /// `transformKernel`, into U's row-major layout or (`panels`) into the
    /// 32-column panels of `PackedKernel`, where column ko of row ci is at
    /// (ko / 32)·32·C + ci·32 + ko % 32 of each matrix.
    private static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                        tile: WinogradTile, into u: UnsafeMutablePointer<Float>, panels: Bool,
                                        threads: Int) {
        precondition(k % 8 == 0, "Winograd kernels have a multiple of 8 output channels")
        // Tap t of (ci, ko) is at kernel[t·tapStride + ci·k + ko]; matrix ξ
        // of U at u[ξ·tapStride + ci·k + ko] (or the panel position).
        Parallel.forRanges(c, threads: threads, grain: channelGrain) { inputChannels, _ in
            for ci in inputChannels {
                graft_winograd_kernel(Int32(tile.outputSize), kernel + ci * k, c * k, k,
                                      u + ci * (panels ? PackedKernel.panelColumns : k), panels ? 1 : 0, c)
            }
        }
    }

    /// The kernel `inputGradient` convolves with: `kernel` (HWIO, C in, K
    /// out) turned by 180° with its channel axes swapped, an HWIO kernel
    /// with K inputs and C outputs, into `turned` (9·C·K floats).
    public static func turnKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                  into turned: UnsafeMutablePointer<Float>, threads: Int) {
        // Tap t of the turned kernel is tap 8 − t of the kernel, transposed.
        Parallel.forEach(9, threads: threads) { t, _ in
            graft_transpose(c, k, kernel + (8 - t) * c * k, k, turned + t * k * c, c)
        }
    }

    /// Blocks one worker transforms and multiplies at once.
    static func blocksPerChunk(_ g: ConvGeometry, _ tile: WinogradTile, tileBudget: Int) -> Int {
        max(8, tileBudget / (tile.matrices * (g.inChannels + g.outChannels)))
    }

    /// Floats of workspace `forward`, `inputGradient` and `kernelGradient`
    /// need with either tiling: per worker, the transformed input and
    /// products of one chunk of blocks, and a zero vector for padding (as
    /// long as the input's pixels, which are the output's in
    /// `inputGradient`: hence the larger channel count).
    public static func workspaceSize(_ g: ConvGeometry, threads: Int,
                                     tileBudget: Int = Conv2D.defaultTileBudget) -> Int {
        max(1, threads) * WinogradTile.allCases.map { workerFloats(g, $0, tileBudget: tileBudget) }.max()!
    }

    /// The tile budget `kernelGradient` runs fastest with on `g`: chunks
    /// of 128 blocks per worker, the length of its products' sums. At batch
    /// 32, against half the default budget, it ran conv3_x's to conv5_x's
    /// kernel gradients faster and conv2_x's the same (bench/HISTORY.md has
    /// the measurements).
    public static func kernelGradientBudget(_ g: ConvGeometry, tile: WinogradTile) -> Int {
        128 * tile.matrices * (g.inChannels + g.outChannels)
    }

    static func workerFloats(_ g: ConvGeometry, _ tile: WinogradTile, tileBudget: Int) -> Int {
        tile.matrices * blocksPerChunk(g, tile, tileBudget: tileBudget) * (g.inChannels + g.outChannels)
            + max(g.inChannels, g.outChannels)
    }

    /// Y = conv(X, g) (+ epilogue) with U's matrices as `transformKernel`
    /// makes them (`u`), or packed for Graft's own GEMM (`packed`, as
    /// `transformKernelPacked` or `packTransformedKernel` makes them; then
    /// `u` may be nil). `workspace` as `workspaceSize(g, …)`.
    public static func forward(_ g: ConvGeometry, tile: WinogradTile, input: UnsafePointer<Float>,
                               transformedKernel u: UnsafePointer<Float>?, packed: [PackedKernel]? = nil,
                               output: UnsafeMutablePointer<Float>, epilogue: Epilogue,
                               workspace: UnsafeMutablePointer<Float>, threads: Int,
                               tileBudget: Int = Conv2D.defaultTileBudget) {
        convolve(g, tile: tile, input: input, transformedKernel: u, packed: packed, output: output,
                 epilogue: epilogue, workspace: workspace, threads: threads, tileBudget: tileBudget)
    }

    /// U's matrices (C × K each) packed for Graft's own GEMM, or nil where
    /// it does not apply.
    public static func packTransformedKernel(_ u: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                             tile: WinogradTile,
                                             precision: Precision = .float32) -> [PackedKernel]? {
        guard PackedKernel.applies(rows: c, columns: k, precision: precision) else { return nil }
        let size = PackedKernel.storageSize(rows: c, columns: k, precision: precision)
        let storage = Tensor(shape: [tile.matrices * size])
        return (0..<tile.matrices).map {
            PackedKernel.pack(u + $0 * c * k, rows: c, columns: k, precision: precision, into: storage, at: $0 * size)
        }
    }

    /// The input gradient of the convolution `g` from its output gradient:
    /// dX is the "same" convolution of dY with the kernel turned by 180° and
    /// its channel axes swapped (`turnKernel`), whose transform (K × C
    /// matrices) is `u`, or `packed` for Graft's own GEMM (then `u` may be
    /// nil). `dInput` is overwritten; `workspace` as `workspaceSize(g, …)`.
    public static func inputGradient(_ g: ConvGeometry, tile: WinogradTile, dOutput: UnsafePointer<Float>,
                                     transformedTurnedKernel u: UnsafePointer<Float>?,
                                     packed: [PackedKernel]? = nil, dInput: UnsafeMutablePointer<Float>,
                                     workspace: UnsafeMutablePointer<Float>, threads: Int,
                                     tileBudget: Int = Conv2D.defaultTileBudget) {
        var adjoint = g
        (adjoint.inChannels, adjoint.outChannels) = (g.outChannels, g.inChannels)
        convolve(adjoint, tile: tile, input: dOutput, transformedKernel: u, packed: packed, output: dInput,
                 epilogue: Epilogue(), workspace: workspace, threads: threads, tileBudget: tileBudget)
    }

    /// The kernel gradient of the convolution `g`, from its input and its
    /// output gradient, written to `dKernel` (HWIO), or added to it with
    /// `accumulate`: the forward pass's
    /// steps taken back one by one,
    ///
    ///   dM = A dY Aᵀ                  (per block of dY; zero past the edge)
    ///   dU[ξ] = Σ over blocks Vᵀ dM   (one GEMM per ξ, C × K, over the blocks)
    ///   dg = Gᵀ dU G,
    ///
    /// with V = Bᵀ d B as in `forward`. `dU` is scratch of
    /// `tile.matrices`·C·K floats; `workspace` as `workspaceSize(g, …)`.
    /// Blocks go in chunks: both threads transform a chunk, then each runs
    /// the GEMMs of its own positions ξ, which it alone sums, in chunk
    /// order, so the result does not depend on thread timing.
    public static func kernelGradient(_ g: ConvGeometry, tile: WinogradTile, input: UnsafePointer<Float>,
                                      dOutput: UnsafePointer<Float>, dKernel: UnsafeMutablePointer<Float>,
                                      dU: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
                                      threads: Int, tileBudget: Int = Conv2D.defaultTileBudget,
                                      accumulate: Bool = false) {
        precondition(applies(to: g))
        BLAS.ensureLoaded()
        let (c, k) = (g.inChannels, g.outChannels)
        let (m, matrices) = (tile.outputSize, tile.matrices)
        let blockCount = blocks(g, tile)
        let workers = max(1, threads)
        // The workers' chunks of `workspaceSize`, pooled into one.
        let perChunk = blocksPerChunk(g, tile, tileBudget: tileBudget) * workers
        let v = workspace, dM = v + matrices * perChunk * c, zeros = dM + matrices * perChunk * k
        zeros.update(repeating: 0, count: max(c, k))

        for (round, chunk) in stride(from: 0, to: blockCount, by: perChunk).enumerated() {
            let n = min(perChunk, blockCount - chunk)
            Parallel.forRanges(n, threads: workers, grain: blockGrain) { rows, _ in
                let inputPixels = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: tile.matrices)
                let gradientPixels = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: m * m)
                defer {
                    inputPixels.deallocate()
                    gradientPixels.deallocate()
                }
                for row in rows {
                    let block = chunk + row
                    inputBlock(g, tile, block: block, input: input, zeros: zeros, into: inputPixels)
                    let (image, y0, x0) = origin(g, tile, block: block)
                    for i in 0..<m {
                        for j in 0..<m {
                            let y = y0 + i, x = x0 + j
                            let inside = y < g.inHeight && x < g.inWidth
                            gradientPixels[i * m + j] =
                                inside ? dOutput + ((image * g.inHeight + y) * g.inWidth + x) * k : UnsafePointer(zeros)
                        }
                    }
                    graft_winograd_input(Int32(m), inputPixels, c, v + row * c, n * c)
                    graft_winograd_output_gradient(Int32(m), gradientPixels, k, dM + row * k, n * k)
                }
            }
            // Each product in blocks of 64 output channels (a block is all of
            // one thread's, over the whole chunk): many small turns, so that
            // a thread the machine slows down takes fewer.
            let columnBlocks = k % 64 == 0 ? k / 64 : 1, width = k / columnBlocks
            Parallel.forEach(matrices * columnBlocks, threads: workers) { item, _ in
                let xi = item / columnBlocks, column = (item % columnBlocks) * width
                gemmTransposedA(m: c, n: width, k: n, a: v + xi * n * c, lda: c, b: dM + xi * n * k + column, ldb: k,
                                c: dU + xi * c * k + column, ldc: k, accumulate: round > 0)
            }
        }
        Parallel.forRanges(c, threads: workers, grain: channelGrain) { inputChannels, _ in
            for ci in inputChannels {
                graft_winograd_kernel_gradient(Int32(m), dU + ci * k, c * k, k, dKernel + ci * k, accumulate ? 1 : 0)
            }
        }
    }

    /// The image of block `block` (numbered over the batch, row-major in
    /// each image) and its first output pixel.
    @inline(__always)
    private static func origin(_ g: ConvGeometry, _ tile: WinogradTile, block: Int) -> (image: Int, y: Int, x: Int) {
        let m = tile.outputSize
        let blocksH = (g.inHeight + m - 1) / m, blocksW = (g.inWidth + m - 1) / m
        return (block / (blocksH * blocksW), m * ((block / blocksW) % blocksH), m * (block % blocksW))
    }

    /// Points `pixels` at the input pixels (row-major) of block `block`,
    /// which starts one pixel above and left of its output pixels; `zeros`
    /// (a vector of the input's channels) stands for the padding.
    @inline(__always)
    private static func inputBlock(_ g: ConvGeometry, _ tile: WinogradTile, block: Int, input: UnsafePointer<Float>,
                                   zeros: UnsafePointer<Float>, into pixels: UnsafeMutablePointer<UnsafePointer<Float>?>) {
        let (image, y0, x0) = origin(g, tile, block: block)
        let size = tile.blockSize
        for i in 0..<size {
            let y = y0 - 1 + i
            for j in 0..<size {
                let x = x0 - 1 + j
                let inside = y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth
                pixels[i * size + j] = inside ? input + ((image * g.inHeight + y) * g.inWidth + x) * g.inChannels : zeros
            }
        }
    }

    /// The convolution itself.
    private static func convolve(_ g: ConvGeometry, tile: WinogradTile, input: UnsafePointer<Float>,
                                 transformedKernel u: UnsafePointer<Float>?, packed: [PackedKernel]?,
                                 output: UnsafeMutablePointer<Float>, epilogue: Epilogue,
                                 workspace: UnsafeMutablePointer<Float>, threads: Int, tileBudget: Int) {
        precondition(applies(to: g))
        precondition(packed.map { $0.count == tile.matrices } ?? (u != nil), "the kernel's transform is for another tiling")
        BLAS.ensureLoaded()
        let (c, k) = (g.inChannels, g.outChannels)
        let (m, matrices) = (tile.outputSize, tile.matrices)
        let blockCount = blocks(g, tile)
        let perChunk = blocksPerChunk(g, tile, tileBudget: tileBudget)
        let workers = max(1, threads)
        var chunkCount = (blockCount + perChunk - 1) / perChunk
        chunkCount = min(blockCount, ((chunkCount + workers - 1) / workers) * workers)
        let chunks = evenSplit(blockCount, parts: chunkCount, multiple: 1)
        let perWorker = workerFloats(g, tile, tileBudget: tileBudget)

        Parallel.forEach(chunks.count, threads: workers) { index, worker in
            let chunk = chunks[index]
            let n = chunk.count
            let v = workspace + worker * perWorker
            let products = v + matrices * perChunk * c
            let zeros = products + matrices * perChunk * k
            zeros.update(repeating: 0, count: c)
            let blockPixels = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: matrices)
            let targets = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: m * m)
            defer {
                blockPixels.deallocate()
                targets.deallocate()
            }

            for (row, block) in chunk.enumerated() {
                inputBlock(g, tile, block: block, input: input, zeros: zeros, into: blockPixels)
                graft_winograd_input(Int32(m), blockPixels, c, v + row * c, n * c)
            }
            for xi in 0..<matrices {
                if let packed {
                    packed[xi].multiply(rows: n, a: v + xi * n * c, lda: c, c: products + xi * n * k, ldc: k)
                } else {
                    gemm(m: n, n: k, k: c, a: v + xi * n * c, lda: c, b: u! + xi * c * k, ldb: k,
                         c: products + xi * n * k, ldc: k)
                }
            }
            for (row, block) in chunk.enumerated() {
                let (image, y0, x0) = origin(g, tile, block: block)
                for i in 0..<m {
                    for j in 0..<m {
                        let y = y0 + i, x = x0 + j
                        targets[i * m + j] = y < g.inHeight && x < g.inWidth
                            ? output + ((image * g.inHeight + y) * g.inWidth + x) * k : nil
                    }
                }
                graft_winograd_output(Int32(m), products + row * k, n * k, k, targets)
                if !epilogue.isIdentity {
                    for y in y0..<min(y0 + m, g.inHeight) {
                        let first = (image * g.inHeight + y) * g.inWidth + x0
                        epilogue.apply(to: output, channels: k, rows: first..<(first + min(m, g.inWidth - x0)),
                                       columns: 0..<k)
                    }
                }
            }
        }
    }
}
