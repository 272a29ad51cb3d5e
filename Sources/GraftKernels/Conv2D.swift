/// The shape arithmetic of a 2-D convolution (or pooling window) over an NHWC
/// batch, with explicit zero padding on each side.
public struct ConvGeometry: Equatable {
    public var batch: Int
    public var inHeight: Int, inWidth: Int, inChannels: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var outChannels: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int

    public init(batch: Int, inHeight: Int, inWidth: Int, inChannels: Int,
                kernelHeight: Int, kernelWidth: Int, outChannels: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0) {
        self.batch = batch
        self.inHeight = inHeight; self.inWidth = inWidth; self.inChannels = inChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.outChannels = outChannels
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom
        self.padLeft = padLeft; self.padRight = padRight
    }

    public var outHeight: Int { (inHeight + padTop + padBottom - kernelHeight) / strideH + 1 }
    public var outWidth: Int { (inWidth + padLeft + padRight - kernelWidth) / strideW + 1 }
    /// Output pixels over the whole batch: the M of the convolution's GEMM.
    public var outPixels: Int { batch * outHeight * outWidth }
    /// Length of one im2col row: the K of the GEMM.
    public var patchSize: Int { kernelHeight * kernelWidth * inChannels }
    /// A 1x1, stride-1, unpadded convolution is a GEMM on the input as it lies.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }
    /// Multiply-adds of the whole convolution.
    public var multiplyAdds: Int { outPixels * patchSize * outChannels }

    /// TensorFlow's "same" padding along one axis: the output has
    /// ceil(size / stride) positions and the odd pixel of padding goes after.
    public static func samePadding(size: Int, kernel: Int, stride: Int) -> (before: Int, after: Int) {
        let out = (size + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - size, 0)
        return (total / 2, total - total / 2)
    }
}

/// Convolution forward: output = conv(input, kernel) followed by `epilogue`
/// (bias, residual add, ReLU).
///
/// `kernel` is HWIO (Keras's layout), which read as a (kh·kw·cin)×cout
/// row-major matrix is exactly the B of the im2col GEMM. The output pixels are
/// cut into tiles of rows; each worker builds its tile's im2col rows in its own
/// slice of `workspace` and multiplies them on one OpenBLAS thread, so memory
/// stays bounded by the tile size whatever the batch. A pointwise convolution
/// skips im2col and multiplies the input in place. When there are too few
/// output pixels to give every thread a tile, the output channels are split
/// instead.
public enum Conv2D {
    /// Default upper bound on the im2col floats one worker holds at once
    /// (4 MiB, about the L2 cache of two cores).
    public static let defaultTileBudget = 1 << 20
    /// Fewer rows than this per tile and the GEMM loses efficiency; split the
    /// output channels instead.
    static let minimumTileRows = 32

    /// Floats of workspace that `forward` needs for this geometry.
    /// It does not depend on the batch size: a plan sized for its largest
    /// batch serves every smaller one.
    public static func workspaceSize(_ g: ConvGeometry, threads: Int,
                                     tileBudget: Int = defaultTileBudget) -> Int {
        if g.isPointwise { return 0 }
        return max(1, threads) * TilePlan.maxRows(g, tileBudget: tileBudget) * g.patchSize
    }

    /// With `packed` (the kernel packed for Graft's own GEMM), the products
    /// run there, the epilogue applied before each tile is stored, and
    /// `kernel` may be nil.
    public static func forward(_ g: ConvGeometry,
                               input: UnsafePointer<Float>,
                               kernel: UnsafePointer<Float>?,
                               packed: PackedKernel? = nil,
                               output: UnsafeMutablePointer<Float>,
                               epilogue: Epilogue,
                               workspace: UnsafeMutablePointer<Float>?,
                               threads: Int,
                               tileBudget: Int = defaultTileBudget) {
        BLAS.ensureLoaded()
        let plan = TilePlan(g, threads: threads, tileBudget: tileBudget)
        let m = g.outPixels, k = g.patchSize, n = g.outChannels
        let streamed = streamsOutput(floats: m * n)

        if plan.splitsChannels {
            // Few pixels: one im2col of everything, then the channels in parallel.
            let a: UnsafePointer<Float>
            if g.isPointwise {
                a = input
            } else {
                im2col(g, input: input, rows: 0..<m, into: workspace!)
                a = UnsafePointer(workspace!)
            }
            if let packed {
                let blocks = evenSplit(n, parts: threads, multiple: PackedKernel.panelColumns)
                Parallel.forEach(blocks.count, threads: threads) { i, _ in
                    let cols = blocks[i]
                    var block = epilogue
                    block.residual = epilogue.residual.map { $0 + cols.lowerBound }
                    packed.multiply(rows: m, a: a, lda: k, c: output + cols.lowerBound, ldc: n, columns: cols,
                                    epilogue: block, streamed: streamed)
                }
                return
            }
            let blocks = plan.channelBlocks
            Parallel.forEach(blocks.count, threads: threads) { i, _ in
                let cols = blocks[i]
                gemm(m: m, n: cols.count, k: k, a: a, lda: k,
                     b: kernel! + cols.lowerBound, ldb: n,
                     c: output + cols.lowerBound, ldc: n)
                epilogue.apply(to: output, channels: n, rows: 0..<m, columns: cols)
            }
            return
        }

        let tiles = plan.rowTiles
        Parallel.forEach(tiles.count, threads: plan.workers) { t, worker in
            let rows = tiles[t]
            let a: UnsafePointer<Float>
            if g.isPointwise {
                a = input + rows.lowerBound * k
            } else {
                let cols = workspace! + worker * plan.rowsPerTile * k
                im2col(g, input: input, rows: rows, into: cols)
                a = UnsafePointer(cols)
            }
            if let packed {
                var tile = epilogue
                tile.residual = epilogue.residual.map { $0 + rows.lowerBound * n }
                packed.multiply(rows: rows.count, a: a, lda: k, c: output + rows.lowerBound * n, ldc: n, epilogue: tile,
                                streamed: streamed)
                return
            }
            gemm(m: rows.count, n: n, k: k, a: a, lda: k, b: kernel!, ldb: n,
                 c: output + rows.lowerBound * n, ldc: n)
            epilogue.apply(to: output, channels: n, rows: rows, columns: 0..<n)
        }
    }

    /// Writes the im2col rows of output pixels `rows` (indices over the whole
    /// batch) into `cols`, one row of `patchSize` floats per pixel, ordered
    /// (kh, kw, cin) like the HWIO kernel. Padding reads as zero.
    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>,
                              rows: Range<Int>, into cols: UnsafeMutablePointer<Float>) {
        let (oh, ow) = (g.outHeight, g.outWidth)
        let cin = g.inChannels
        let spanFloats = g.kernelWidth * cin
        for r in rows {
            let n = r / (oh * ow)
            let y = (r / ow) % oh
            let x = r % ow
            let x0 = x * g.strideW - g.padLeft
            var dst = cols + (r - rows.lowerBound) * g.patchSize
            for ky in 0..<g.kernelHeight {
                let iy = y * g.strideH + ky - g.padTop
                if iy < 0 || iy >= g.inHeight {
                    dst.update(repeating: 0, count: spanFloats)
                } else {
                    let rowBase = input + ((n * g.inHeight + iy) * g.inWidth) * cin
                    if x0 >= 0 && x0 + g.kernelWidth <= g.inWidth {
                        dst.update(from: rowBase + x0 * cin, count: spanFloats)
                    } else {
                        for kx in 0..<g.kernelWidth {
                            let ix = x0 + kx
                            let d = dst + kx * cin
                            if ix < 0 || ix >= g.inWidth {
                                d.update(repeating: 0, count: cin)
                            } else {
                                d.update(from: rowBase + ix * cin, count: cin)
                            }
                        }
                    }
                }
                dst += spanFloats
            }
        }
    }

    /// How one convolution is cut into parallel work.
    struct TilePlan {
        let workers: Int
        let splitsChannels: Bool
        let rowsPerTile: Int
        let rowTiles: [Range<Int>]
        let channelBlocks: [Range<Int>]

        /// Rows of im2col one worker holds at once.
        static func maxRows(_ g: ConvGeometry, tileBudget: Int) -> Int {
            max(Conv2D.minimumTileRows, tileBudget / max(g.patchSize, 1))
        }

        init(_ g: ConvGeometry, threads: Int, tileBudget: Int) {
            let m = g.outPixels
            let workers = max(1, threads)
            self.workers = workers
            if workers > 1 && m < workers * Conv2D.minimumTileRows {
                splitsChannels = true
                rowsPerTile = m
                rowTiles = []
                // Blocks of 16 channels keep each GEMM's columns vector-aligned.
                let blockCount = min(workers, max(1, g.outChannels / 16))
                channelBlocks = evenSplit(g.outChannels, parts: blockCount, multiple: 16)
                return
            }
            splitsChannels = false
            channelBlocks = []
            // As many tiles as the workspace budget needs, and up to sixteen
            // a worker (of 96 rows or more), handed out in turn so that a
            // worker the machine slows down takes fewer; rounded up to a
            // multiple of the worker count so that the last round is full.
            let maxRows = TilePlan.maxRows(g, tileBudget: tileBudget)
            var tiles = max((m + maxRows - 1) / maxRows, workers > 1 ? min(16 * workers, m / 96) : 1)
            tiles = ((tiles + workers - 1) / workers) * workers
            tiles = min(tiles, max(1, m))
            rowTiles = evenSplit(m, parts: tiles, multiple: 1)
            rowsPerTile = rowTiles.map(\.count).max() ?? 0
        }
    }
}

/// Splits 0..<total into `parts` contiguous ranges whose sizes differ by at
/// most `multiple` and (except the last) are multiples of it.
func evenSplit(_ total: Int, parts: Int, multiple: Int) -> [Range<Int>] {
    let units = (total + multiple - 1) / multiple
    let parts = max(1, min(parts, units))
    var ranges: [Range<Int>] = []
    var start = 0
    for p in 0..<parts {
        let endUnits = units * (p + 1) / parts
        let end = min(total, endUnits * multiple)
        if end > start { ranges.append(start..<end) }
        start = end
    }
    return ranges
}
