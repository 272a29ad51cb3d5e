import CGraftGEMM

/// 3x3, stride-1, "same" convolution by Winograd's minimal filtering
/// F(2x2, 3x3) (Lavin & Gray, 2015): each 2x2 block of output pixels comes
/// from a 4x4 block of input through 16 products per channel pair instead of
/// 36, i.e. 2.25x fewer multiplications than im2col + GEMM. The products
/// are 16 independent GEMMs, (tiles × C)·(C × K), one per position ξ of the
/// 4x4 transformed tile, so OpenBLAS still does the arithmetic.
///
///   kernel:  U = G g Gᵀ          (once, when the plan is compiled)
///   input:   V = Bᵀ d B          (per 4x4 input block and channel)
///   output:  Y = Aᵀ (U ⊙ V) A    (summed over channels by the GEMMs)
///
/// The transforms only add, subtract and halve, so rounding stays at the level
/// of the direct method (the parity tests hold it to the same bar).
public enum Winograd3x3 {
    /// Whether `g` is a convolution this path computes: 3x3, stride 1, one
    /// pixel of zero padding on every side, channel counts a multiple of 8
    /// (the transforms run eight channels at a time).
    public static func applies(to g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideH == 1 && g.strideW == 1
            && g.padTop == 1 && g.padBottom == 1 && g.padLeft == 1 && g.padRight == 1
            && g.inChannels % 8 == 0 && g.outChannels % 8 == 0
    }

    /// U = G g Gᵀ for every (input, output) channel pair of an HWIO 3x3
    /// kernel, laid out as 16 matrices C × K (one per ξ), the B of the GEMMs.
    /// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]. The output channels
    /// are contiguous in both layouts, so the inner loop runs along them.
    public static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int,
                                       outChannels k: Int) -> Tensor {
        let u = Tensor(shape: [16, c, k])
        transformKernel(kernel, inChannels: c, outChannels: k, into: u.data, threads: 1)
        return u
    }

    /// The same into `u` (16·C·K floats), input channels split over threads
    /// (training transforms the kernel again after every step). K must be a
    /// multiple of 8, as `applies` requires.
    public static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                       into u: UnsafeMutablePointer<Float>, threads: Int) {
        transformKernel(kernel, inChannels: c, outChannels: k, into: u, panels: false, threads: threads)
    }

    /// U's 16 matrices transformed straight into the float32 panel layout
    /// of Graft's own GEMM (as `packTransformedKernel` would pack them) in
    /// `storage` (16·C·K floats), which the result keeps alive: one pass
    /// where transforming and then packing takes two. Nil where that GEMM
    /// does not apply.
    public static func transformKernelPacked(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                             into storage: Tensor, threads: Int) -> [PackedKernel]? {
        guard PackedKernel.applies(rows: c, columns: k) else { return nil }
        precondition(storage.count >= 16 * c * k)
        transformKernel(kernel, inChannels: c, outChannels: k, into: storage.data, panels: true, threads: threads)
        return (0..<16).map {
            PackedKernel(rows: c, columns: k, precision: .float32, storage: storage, offset: $0 * c * k)
        }
    }

    /// `transformKernel`, into U's row-major layout or (`panels`) into the
    /// 32-column panels of `PackedKernel`, where column ko of row ci is at
    /// (ko / 32)·32·C + ci·32 + ko % 32 of each matrix.
    private static func transformKernel(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                        into u: UnsafeMutablePointer<Float>, panels: Bool, threads: Int) {
        precondition(k % 8 == 0, "Winograd kernels have a multiple of 8 output channels")
        // Tap t of (ci, ko) is at kernel[t·tapStride + ci·k + ko]; matrix ξ
        // of U at u[ξ·tapStride + ci·k + ko] (or the panel position). Eight
        // output channels at a time, which never straddle a panel.
        let tapStride = c * k, panel = PackedKernel.panelColumns
        Parallel.forRanges(c, threads: threads, grain: 64) { inputChannels, _ in
            for ci in inputChannels {
                let taps = UnsafeRawPointer(kernel + ci * k)
                let out = UnsafeMutableRawPointer(u + ci * (panels ? panel : k))
                for ko in stride(from: 0, to: k, by: 8) {
                    let column = panels ? (ko / panel) * panel * c + ko % panel : ko
                    transformKernelColumns(taps, out, tapStride: tapStride, at: ko, storedAt: column)
                }
            }
        }
    }

    /// U = G g Gᵀ for the eight output channels from `ko` on, stored from
    /// float `column` on in each matrix's row.
    @inline(__always)
    private static func transformKernelColumns(_ taps: UnsafeRawPointer, _ out: UnsafeMutableRawPointer,
                                               tapStride: Int, at ko: Int, storedAt column: Int) {
        /// One 1-D transform of three values: G applied to (a, b, c).
        @inline(__always) func g3(_ a: V, _ b: V, _ c: V) -> (V, V, V, V) {
            (a, (a + b + c) * 0.5, (a - b + c) * 0.5, c)
        }
        @inline(__always) func tap(_ t: Int) -> V {
            taps.loadUnaligned(fromByteOffset: (t * tapStride + ko) * 4, as: V.self)
        }
        @inline(__always) func store(_ xi: Int, _ value: V) {
            out.storeBytes(of: value, toByteOffset: (xi * tapStride + column) * 4, as: V.self)
        }
        // Columns first (G g), then rows ((G g) Gᵀ).
        let (r00, r10, r20, r30) = g3(tap(0), tap(3), tap(6))
        let (r01, r11, r21, r31) = g3(tap(1), tap(4), tap(7))
        let (r02, r12, r22, r32) = g3(tap(2), tap(5), tap(8))
        @inline(__always) func storeRow(_ i: Int, _ x: V, _ y: V, _ z: V) {
            let (a, b, d, e) = g3(x, y, z)
            store(4 * i, a)
            store(4 * i + 1, b)
            store(4 * i + 2, d)
            store(4 * i + 3, e)
        }
        storeRow(0, r00, r01, r02)
        storeRow(1, r10, r11, r12)
        storeRow(2, r20, r21, r22)
        storeRow(3, r30, r31, r32)
    }

    /// Tiles of 2x2 output pixels one worker transforms and multiplies at once.
    static func tilesPerChunk(_ g: ConvGeometry, tileBudget: Int) -> Int {
        max(8, tileBudget / (16 * (g.inChannels + g.outChannels)))
    }

    /// Floats of workspace `forward` and `inputGradient` need: per worker,
    /// the transformed input and products of one chunk of tiles, and a zero
    /// vector for padding (as long as the input's pixels, which are the
    /// output's in `inputGradient`: hence the larger channel count).
    public static func workspaceSize(_ g: ConvGeometry, threads: Int,
                                     tileBudget: Int = Conv2D.defaultTileBudget) -> Int {
        max(1, threads) * workerFloats(g, tileBudget: tileBudget)
    }

    static func workerFloats(_ g: ConvGeometry, tileBudget: Int) -> Int {
        16 * tilesPerChunk(g, tileBudget: tileBudget) * (g.inChannels + g.outChannels)
            + max(g.inChannels, g.outChannels)
    }

    /// With `packed` (U's 16 matrices packed for Graft's own GEMM, as
    /// `packTransformedKernel` makes them), the products run there, and `u`
    /// may be nil.
    public static func forward(_ g: ConvGeometry, input: UnsafePointer<Float>,
                               transformedKernel u: UnsafePointer<Float>?, packed: [PackedKernel]? = nil,
                               output: UnsafeMutablePointer<Float>, epilogue: Epilogue,
                               workspace: UnsafeMutablePointer<Float>, threads: Int,
                               tileBudget: Int = Conv2D.defaultTileBudget) {
        convolve(g, input: input, transformedKernel: u, packed: packed, adjoint: false, output: output,
                 epilogue: epilogue, workspace: workspace, threads: threads, tileBudget: tileBudget)
    }

    /// U's 16 matrices (C × K each) packed for Graft's own GEMM, or nil
    /// where it does not apply.
    public static func packTransformedKernel(_ u: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                             precision: Precision = .float32) -> [PackedKernel]? {
        guard PackedKernel.applies(rows: c, columns: k, precision: precision) else { return nil }
        let size = PackedKernel.storageSize(rows: c, columns: k, precision: precision)
        let storage = Tensor(shape: [16 * size])
        return (0..<16).map {
            PackedKernel.pack(u + $0 * c * k, rows: c, columns: k, precision: precision, into: storage, at: $0 * size)
        }
    }

    /// The matrices `inputGradient` multiplies by (U's, turned and
    /// transposed: K × C each), transformed straight from the HWIO kernel
    /// into the panels of Graft's own GEMM in `storage` (16·C·K floats), or
    /// nil where that GEMM does not apply. The kernel turned by 180° with
    /// its channel axes swapped (into `turned`, scratch of 9·C·K floats) is
    /// an HWIO kernel with K inputs and C outputs, whose transform is those
    /// matrices (see `inputGradient`): one transform, where transforming U
    /// and then packing its transposes took two passes and a strided one.
    public static func transformTurnedKernelPacked(_ kernel: UnsafePointer<Float>, inChannels c: Int,
                                                   outChannels k: Int, turned: UnsafeMutablePointer<Float>,
                                                   into storage: Tensor, threads: Int) -> [PackedKernel]? {
        guard PackedKernel.applies(rows: k, columns: c) else { return nil }
        // Tap t of the turned kernel is tap 8 − t of the kernel, transposed.
        Parallel.forEach(9, threads: threads) { t, _ in
            graft_transpose(c, k, kernel + (8 - t) * c * k, k, turned + t * k * c, c)
        }
        return transformKernelPacked(turned, inChannels: k, outChannels: c, into: storage, threads: threads)
    }

    /// The input gradient of the convolution `g` (whose transformed kernel
    /// is `u`, as `transformKernel` makes it) from its output gradient:
    /// dX is the "same" convolution of dY with the kernel turned by 180° and
    /// its channel axes swapped. That kernel's transform needs no work of its
    /// own: G applied to three reversed values is G's result with its first
    /// and last entries swapped, so its matrix ξ = (i, j) is Uᵀ at
    /// (p(i), p(j)), p = (3, 1, 2, 0), and the GEMMs read U transposed.
    /// With `packed` (as `transformTurnedKernelPacked` makes it), the
    /// products run on Graft's own GEMM, and `u` may be nil.
    /// `dInput` is overwritten; `workspace` as `workspaceSize(g, …)`.
    public static func inputGradient(_ g: ConvGeometry, dOutput: UnsafePointer<Float>,
                                     transformedKernel u: UnsafePointer<Float>?, packed: [PackedKernel]? = nil,
                                     dInput: UnsafeMutablePointer<Float>,
                                     workspace: UnsafeMutablePointer<Float>, threads: Int,
                                     tileBudget: Int = Conv2D.defaultTileBudget) {
        var adjoint = g
        (adjoint.inChannels, adjoint.outChannels) = (g.outChannels, g.inChannels)
        convolve(adjoint, input: dOutput, transformedKernel: u, packed: packed, adjoint: true, output: dInput,
                 epilogue: Epilogue(), workspace: workspace, threads: threads, tileBudget: tileBudget)
    }

    /// The kernel gradient of the convolution `g`, from its input and its
    /// output gradient, added into `dKernel` (HWIO): the forward pass's
    /// steps taken back one by one,
    ///
    ///   dM = A dY Aᵀ                  (per 2x2 block of dY; zero past the edge)
    ///   dU[ξ] = Σ over tiles Vᵀ dM    (16 GEMMs, C × K, over the tiles)
    ///   dg = Gᵀ dU G,
    ///
    /// with V = Bᵀ d B as in `forward`. 2.25x fewer multiplications than
    /// im2col's colsᵀ·dY. `dU` is scratch of 16·C·K floats; `workspace` as
    /// `workspaceSize(g, …)`. Tiles go in chunks: both threads transform a
    /// chunk, then each runs the GEMMs of its own positions ξ, which it alone
    /// sums, in chunk order, so the result does not depend on thread timing.
    public static func kernelGradient(_ g: ConvGeometry, input: UnsafePointer<Float>,
                                      dOutput: UnsafePointer<Float>, dKernel: UnsafeMutablePointer<Float>,
                                      dU: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
                                      threads: Int, tileBudget: Int = Conv2D.defaultTileBudget) {
        precondition(applies(to: g))
        Parallel.configureBLAS()
        let (c, k) = (g.inChannels, g.outChannels)
        let tilesH = (g.inHeight + 1) / 2, tilesW = (g.inWidth + 1) / 2
        let tiles = g.batch * tilesH * tilesW
        let workers = max(1, threads)
        // The workers' chunks of `workspaceSize`, pooled into one.
        let perChunk = tilesPerChunk(g, tileBudget: tileBudget) * workers
        let v = workspace, dM = v + 16 * perChunk * c, zeros = dM + 16 * perChunk * k
        zeros.update(repeating: 0, count: max(c, k))

        for (round, chunk) in stride(from: 0, to: tiles, by: perChunk).enumerated() {
            let n = min(perChunk, tiles - chunk)
            Parallel.forRanges(n, threads: workers, grain: 16) { rows, _ in
                let inputPixels = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: 16)
                let gradientPixels = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: 4)
                defer {
                    inputPixels.deallocate()
                    gradientPixels.deallocate()
                }
                for row in rows {
                    let tile = chunk + row
                    let image = tile / (tilesH * tilesW)
                    let ty = (tile / tilesW) % tilesH, tx = tile % tilesW
                    inputBlock(g, tile: tile, input: input, zeros: zeros, into: inputPixels)
                    for i in 0..<2 {
                        for j in 0..<2 {
                            let y = 2 * ty + i, x = 2 * tx + j
                            let inside = y < g.inHeight && x < g.inWidth
                            gradientPixels[i * 2 + j] = UnsafeRawPointer(
                                inside ? dOutput + ((image * g.inHeight + y) * g.inWidth + x) * k : UnsafePointer(zeros))
                        }
                    }
                    transformInput(inputPixels, channels: c, into: v + row * c, matrixStride: n * c)
                    transformOutputGradient(gradientPixels, channels: k, into: dM + row * k, matrixStride: n * k)
                }
            }
            // Each product in blocks of 64 output channels (a block is all of
            // one thread's, over the whole chunk): many small turns, so that
            // a thread the machine slows down takes fewer.
            let blocks = k % 64 == 0 ? k / 64 : 1, width = k / blocks
            Parallel.forEach(16 * blocks, threads: workers) { item, _ in
                let xi = item / blocks, column = (item % blocks) * width
                gemmTransposedA(m: c, n: width, k: n, a: v + xi * n * c, lda: c, b: dM + xi * n * k + column, ldb: k,
                                c: dU + xi * c * k + column, ldc: k, accumulate: round > 0)
            }
        }
        Parallel.forRanges(c, threads: workers, grain: 64) { inputChannels, _ in
            for ci in inputChannels {
                for ko in stride(from: 0, to: k, by: 8) {
                    transformKernelGradientColumns(UnsafeRawPointer(dU + ci * k), UnsafeMutableRawPointer(dKernel + ci * k),
                                                   tapStride: c * k, at: ko)
                }
            }
        }
    }

    /// dg += Gᵀ dU G for the eight output channels from `ko` on, the adjoint
    /// of `transformKernelColumns`. Gᵀ applied to (w, x, y, z) is
    /// (w + ½(x + y), ½(x − y), ½(x + y) + z).
    @inline(__always)
    private static func transformKernelGradientColumns(_ dU: UnsafeRawPointer, _ dKernel: UnsafeMutableRawPointer,
                                                       tapStride: Int, at ko: Int) {
        @inline(__always) func gt4(_ w: V, _ x: V, _ y: V, _ z: V) -> (V, V, V) {
            let half = (x + y) * 0.5
            return (w + half, (x - y) * 0.5, half + z)
        }
        @inline(__always) func load(_ xi: Int) -> V {
            dU.loadUnaligned(fromByteOffset: (xi * tapStride + ko) * 4, as: V.self)
        }
        @inline(__always) func add(_ t: Int, _ value: V) {
            let offset = (t * tapStride + ko) * 4
            dKernel.storeBytes(of: dKernel.loadUnaligned(fromByteOffset: offset, as: V.self) + value,
                               toByteOffset: offset, as: V.self)
        }
        // Columns first (Gᵀ dU), then rows ((Gᵀ dU) G).
        let (r00, r10, r20) = gt4(load(0), load(4), load(8), load(12))
        let (r01, r11, r21) = gt4(load(1), load(5), load(9), load(13))
        let (r02, r12, r22) = gt4(load(2), load(6), load(10), load(14))
        let (r03, r13, r23) = gt4(load(3), load(7), load(11), load(15))
        @inline(__always) func addRow(_ a: Int, _ w: V, _ x: V, _ y: V, _ z: V) {
            let (t0, t1, t2) = gt4(w, x, y, z)
            add(3 * a, t0)
            add(3 * a + 1, t1)
            add(3 * a + 2, t2)
        }
        addRow(0, r00, r01, r02, r03)
        addRow(1, r10, r11, r12, r13)
        addRow(2, r20, r21, r22, r23)
    }

    /// Points `block` at the 16 input pixels (row-major) of 4x4 block `tile`
    /// (numbered over the batch, row-major in each image), which starts one
    /// pixel above and left of its 2x2 output block; `zeros` (a vector of
    /// the input's channels) stands for the padding.
    @inline(__always)
    private static func inputBlock(_ g: ConvGeometry, tile: Int, input: UnsafePointer<Float>,
                                   zeros: UnsafePointer<Float>, into block: UnsafeMutablePointer<UnsafeRawPointer>) {
        let tilesH = (g.inHeight + 1) / 2, tilesW = (g.inWidth + 1) / 2
        let image = tile / (tilesH * tilesW)
        let ty = (tile / tilesW) % tilesH, tx = tile % tilesW
        for i in 0..<4 {
            let y = 2 * ty - 1 + i
            for j in 0..<4 {
                let x = 2 * tx - 1 + j
                let inside = y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth
                block[i * 4 + j] = UnsafeRawPointer(
                    inside ? input + ((image * g.inHeight + y) * g.inWidth + x) * g.inChannels : zeros)
            }
        }
    }

    /// Position of the turned kernel's matrix ξ in U (see `inputGradient`).
    private static let turned: [Int] = (0..<16).map { xi in
        let p = [3, 1, 2, 0]
        return 4 * p[xi / 4] + p[xi % 4]
    }

    /// The convolution itself. With `adjoint`, `u` is the transform of the
    /// kernel with g's channel axes swapped, read turned and transposed.
    private static func convolve(_ g: ConvGeometry, input: UnsafePointer<Float>,
                                 transformedKernel u: UnsafePointer<Float>?, packed: [PackedKernel]?, adjoint: Bool,
                                 output: UnsafeMutablePointer<Float>, epilogue: Epilogue,
                                 workspace: UnsafeMutablePointer<Float>, threads: Int, tileBudget: Int) {
        precondition(applies(to: g))
        Parallel.configureBLAS()
        let (c, k) = (g.inChannels, g.outChannels)
        let tilesH = (g.inHeight + 1) / 2, tilesW = (g.inWidth + 1) / 2
        let tiles = g.batch * tilesH * tilesW
        let perChunk = tilesPerChunk(g, tileBudget: tileBudget)
        let workers = max(1, threads)
        var chunkCount = (tiles + perChunk - 1) / perChunk
        chunkCount = min(tiles, ((chunkCount + workers - 1) / workers) * workers)
        let chunks = evenSplit(tiles, parts: chunkCount, multiple: 1)

        Parallel.forEach(chunks.count, threads: workers) { index, worker in
            let chunk = chunks[index]
            let n = chunk.count
            let v = workspace + worker * workerFloats(g, tileBudget: tileBudget)
            let m = v + 16 * perChunk * c
            let zeros = m + 16 * perChunk * k
            zeros.update(repeating: 0, count: c)
            let blockPointers = UnsafeMutablePointer<UnsafeRawPointer>.allocate(capacity: 16)
            let targetPointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 4)
            defer {
                blockPointers.deallocate()
                targetPointers.deallocate()
            }

            for (row, tile) in chunk.enumerated() {
                inputBlock(g, tile: tile, input: input, zeros: zeros, into: blockPointers)
                transformInput(blockPointers, channels: c, into: v + row * c, matrixStride: n * c)
            }
            for xi in 0..<16 {
                if let packed {
                    packed[xi].multiply(rows: n, a: v + xi * n * c, lda: c, c: m + xi * n * k, ldc: k)
                } else if adjoint {
                    gemm(m: n, n: k, k: c, a: v + xi * n * c, lda: c, b: u! + turned[xi] * c * k, ldb: c,
                         transposeB: true, c: m + xi * n * k, ldc: k)
                } else {
                    gemm(m: n, n: k, k: c, a: v + xi * n * c, lda: c, b: u! + xi * c * k, ldb: k,
                         c: m + xi * n * k, ldc: k)
                }
            }
            for (row, tile) in chunk.enumerated() {
                let image = tile / (tilesH * tilesW)
                let ty = (tile / tilesW) % tilesH, tx = tile % tilesW
                for i in 0..<2 {
                    for j in 0..<2 {
                        let y = 2 * ty + i, x = 2 * tx + j
                        let inside = y < g.inHeight && x < g.inWidth
                        targetPointers[i * 2 + j] = inside
                            ? UnsafeMutableRawPointer(output + ((image * g.inHeight + y) * g.inWidth + x) * k) : nil
                    }
                }
                transformOutput(m + row * k, matrixStride: n * k, channels: k, into: targetPointers)
                if !epilogue.isIdentity {
                    for i in 0..<2 where 2 * ty + i < g.inHeight {
                        let y = 2 * ty + i
                        let x0 = 2 * tx, pixels = min(2, g.inWidth - x0)
                        let first = (image * g.inHeight + y) * g.inWidth + x0
                        epilogue.apply(to: output, channels: k, rows: first..<(first + pixels), columns: 0..<k)
                    }
                }
            }
        }
    }

    private typealias V = SIMD8<Float>

    /// One 1-D input transform, Bᵀ applied to four values:
    /// Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
    @inline(__always)
    private static func bt(_ a: V, _ b: V, _ c: V, _ d: V) -> (V, V, V, V) {
        (a - c, b + c, c - b, b - d)
    }

    /// One 1-D output transform, Aᵀ applied to four values:
    /// Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]].
    @inline(__always)
    private static func at(_ a: V, _ b: V, _ c: V, _ d: V) -> (V, V) {
        (a + b + c, b - c - d)
    }

    /// V = Bᵀ d B for one tile, whose 16 input pixels (row-major; a zero
    /// vector for padding) are at `d`, eight channels at a time. Element ξ of
    /// the transformed tile goes to `out + ξ·matrixStride`.
    @inline(__always)
    static func transformInput(_ d: UnsafePointer<UnsafeRawPointer>, channels: Int,
                               into out: UnsafeMutablePointer<Float>, matrixStride: Int) {
        let dst = UnsafeMutableRawPointer(out)
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ i: Int) -> V { d[i].loadUnaligned(fromByteOffset: offset, as: V.self) }
            @inline(__always) func store(_ xi: Int, _ value: V) {
                dst.storeBytes(of: value, toByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            // Columns first (t = Bᵀ d), then rows (V = t B).
            let (t00, t10, t20, t30) = bt(load(0), load(4), load(8), load(12))
            let (t01, t11, t21, t31) = bt(load(1), load(5), load(9), load(13))
            let (t02, t12, t22, t32) = bt(load(2), load(6), load(10), load(14))
            let (t03, t13, t23, t33) = bt(load(3), load(7), load(11), load(15))
            @inline(__always) func storeRow(_ i: Int, _ r0: V, _ r1: V, _ r2: V, _ r3: V) {
                let (v0, v1, v2, v3) = bt(r0, r1, r2, r3)
                store(4 * i, v0)
                store(4 * i + 1, v1)
                store(4 * i + 2, v2)
                store(4 * i + 3, v3)
            }
            storeRow(0, t00, t01, t02, t03)
            storeRow(1, t10, t11, t12, t13)
            storeRow(2, t20, t21, t22, t23)
            storeRow(3, t30, t31, t32, t33)
        }
    }

    /// dM = A dY Aᵀ for one tile, the adjoint of `transformOutput`: the 2x2
    /// output gradient pixels at `dy` (row-major; a zero vector past the
    /// edge) to element ξ of the tile at `out + ξ·matrixStride`. A applied
    /// to (p, q) is (p, p + q, p − q, −q).
    @inline(__always)
    static func transformOutputGradient(_ dy: UnsafePointer<UnsafeRawPointer>, channels: Int,
                                        into out: UnsafeMutablePointer<Float>, matrixStride: Int) {
        let dst = UnsafeMutableRawPointer(out)
        @inline(__always) func a(_ p: V, _ q: V) -> (V, V, V, V) { (p, p + q, p - q, -q) }
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ i: Int) -> V { dy[i].loadUnaligned(fromByteOffset: offset, as: V.self) }
            @inline(__always) func store(_ xi: Int, _ value: V) {
                dst.storeBytes(of: value, toByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            // Columns first (t = A dY), then rows (dM = t Aᵀ).
            let (t00, t10, t20, t30) = a(load(0), load(2))
            let (t01, t11, t21, t31) = a(load(1), load(3))
            @inline(__always) func storeRow(_ i: Int, _ p: V, _ q: V) {
                let (m0, m1, m2, m3) = a(p, q)
                store(4 * i, m0)
                store(4 * i + 1, m1)
                store(4 * i + 2, m2)
                store(4 * i + 3, m3)
            }
            storeRow(0, t00, t01)
            storeRow(1, t10, t11)
            storeRow(2, t20, t21)
            storeRow(3, t30, t31)
        }
    }

    /// Y = Aᵀ m A for one tile: the 2x2 output pixels, written to `targets`
    /// (row-major; nil for a pixel past the image's edge).
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, matrixStride: Int, channels: Int,
                                into targets: UnsafePointer<UnsafeMutableRawPointer?>) {
        let src = UnsafeRawPointer(m)
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ xi: Int) -> V {
                src.loadUnaligned(fromByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            @inline(__always) func store(_ pixel: Int, _ value: V) {
                targets[pixel]?.storeBytes(of: value, toByteOffset: offset, as: V.self)
            }
            // Columns first (s = Aᵀ m), then rows (Y = s A).
            let (s00, s10) = at(load(0), load(4), load(8), load(12))
            let (s01, s11) = at(load(1), load(5), load(9), load(13))
            let (s02, s12) = at(load(2), load(6), load(10), load(14))
            let (s03, s13) = at(load(3), load(7), load(11), load(15))
            let (y00, y01) = at(s00, s01, s02, s03)
            let (y10, y11) = at(s10, s11, s12, s13)
            store(0, y00)
            store(1, y01)
            store(2, y10)
            store(3, y11)
        }
    }
}
