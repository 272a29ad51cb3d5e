import CGraftGEMM
import GraftKernels
import Testing

/// Float32 rounding-error bound of a length-k dot product plus bias, residual
/// and ReLU (Higham's γ_k with unit roundoff u = 2^-24), relative to the sum of
/// |products|. A wrong index or a missed term is off by far more than this.
func dotProductTolerance(_ k: Int) -> Double { Double(k + 3) * 0x1p-24 }

struct ConvCase: CustomStringConvertible {
    var g: ConvGeometry
    var threads: Int
    var tileBudget = Conv2D.defaultTileBudget
    var description: String {
        "\(g.kernelHeight)x\(g.kernelWidth)/\(g.strideH),\(g.strideW) pad \(g.padTop)\(g.padBottom)\(g.padLeft)\(g.padRight) in \(g.batch)x\(g.inHeight)x\(g.inWidth)x\(g.inChannels) out \(g.outChannels) threads \(threads) budget \(tileBudget)"
    }
}

let convCases: [ConvCase] = [
    // Pointwise: one GEMM on the input as it lies.
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 7, inWidth: 5, inChannels: 16, kernelHeight: 1, kernelWidth: 1, outChannels: 24), threads: 2),
    // 1x1 stride 2 (ResNet's downsampling shortcut), odd input size.
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 9, inWidth: 7, inChannels: 8, kernelHeight: 1, kernelWidth: 1, outChannels: 16, strideH: 2, strideW: 2), threads: 2),
    // 3x3 "same", stride 1.
    ConvCase(g: ConvGeometry(batch: 3, inHeight: 6, inWidth: 8, inChannels: 5, kernelHeight: 3, kernelWidth: 3, outChannels: 7, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), threads: 1),
    // ResNet's stem: 7x7 stride 2 on zero-padded input.
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 20, inWidth: 18, inChannels: 3, kernelHeight: 7, kernelWidth: 7, outChannels: 8, strideH: 2, strideW: 2, padTop: 3, padBottom: 3, padLeft: 3, padRight: 3), threads: 2),
    // Non-square kernel, unequal strides, asymmetric padding ("same" with stride 2).
    ConvCase(g: ConvGeometry(batch: 1, inHeight: 11, inWidth: 10, inChannels: 4, kernelHeight: 3, kernelWidth: 2, outChannels: 5, strideH: 2, strideW: 1, padTop: 0, padBottom: 1, padLeft: 0, padRight: 1), threads: 2),
    // Many small tiles: the tile budget forces several rounds per worker.
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 12, inWidth: 12, inChannels: 6, kernelHeight: 3, kernelWidth: 3, outChannels: 9, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), threads: 2, tileBudget: 40 * 54),
    // Too few pixels for a tile per thread: the channels are split instead.
    ConvCase(g: ConvGeometry(batch: 1, inHeight: 3, inWidth: 3, inChannels: 8, kernelHeight: 3, kernelWidth: 3, outChannels: 40, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), threads: 2),
    ConvCase(g: ConvGeometry(batch: 1, inHeight: 2, inWidth: 2, inChannels: 8, kernelHeight: 1, kernelWidth: 1, outChannels: 48), threads: 2),
]

@Test("Conv2D with bias matches the reference loop", arguments: convCases)
func convolutionMatchesReference(_ c: ConvCase) {
    var random = TestRandom(7)
    let g = c.g
    let input = random.tensor([g.batch, g.inHeight, g.inWidth, g.inChannels])
    let kernel = random.tensor([g.kernelHeight, g.kernelWidth, g.inChannels, g.outChannels])
    let bias = random.tensor([g.outChannels])
    let output = Tensor(shape: [g.outPixels * g.outChannels])
    let workspace = Tensor(shape: [Conv2D.workspaceSize(g, threads: c.threads, tileBudget: c.tileBudget)])
    Conv2D.forward(g, input: input.data, kernel: kernel.data, output: output.data,
                   epilogue: Epilogue(bias: bias.data), workspace: workspace.data,
                   threads: c.threads, tileBudget: c.tileBudget)
    withExtendedLifetime(workspace) {}  // the kernel used workspace.data until here
    let expected = referenceConv(g, input: input, kernel: kernel, bias: bias)
    #expect(worstRelativeError(output.data, expected.values, expected.magnitudes) <= dotProductTolerance(g.patchSize))
}

@Test("the epilogue adds bias and residual, then applies ReLU")
func convolutionEpilogue() {
    var random = TestRandom(11)
    let g = ConvGeometry(batch: 2, inHeight: 5, inWidth: 5, inChannels: 6, kernelHeight: 3, kernelWidth: 3,
                         outChannels: 10, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
    let input = random.tensor([2, 5, 5, 6]), kernel = random.tensor([3, 3, 6, 10])
    let bias = random.tensor([10]), residual = random.tensor([g.outPixels * 10])
    let output = Tensor(shape: [g.outPixels * 10])
    let workspace = Tensor(shape: [Conv2D.workspaceSize(g, threads: 2)])
    Conv2D.forward(g, input: input.data, kernel: kernel.data, output: output.data,
                   epilogue: Epilogue(bias: bias.data, residual: residual.data, relu: true),
                   workspace: workspace.data, threads: 2)
    withExtendedLifetime(workspace) {}  // the kernel used workspace.data until here
    let (expected, magnitudes) = referenceConvResidualReLU(g, input: input, kernel: kernel, bias: bias,
                                                           residual: residual)
    #expect(worstRelativeError(output.data, expected, magnitudes) <= dotProductTolerance(g.patchSize))
    #expect(output.array.contains(0) && output.array.allSatisfy { $0 >= 0 })
}

/// Convolutions whose output channels are whole panels of Graft's own GEMM.
let packedConvCases: [ConvCase] = [
    // Pointwise, 70 rows: five tiles of 12 and 10 rows left over.
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 7, inWidth: 5, inChannels: 16, kernelHeight: 1, kernelWidth: 1, outChannels: 64), threads: 2),
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 9, inWidth: 7, inChannels: 8, kernelHeight: 1, kernelWidth: 1, outChannels: 32, strideH: 2, strideW: 2), threads: 2),
    ConvCase(g: ConvGeometry(batch: 3, inHeight: 6, inWidth: 8, inChannels: 5, kernelHeight: 3, kernelWidth: 3, outChannels: 32, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), threads: 1),
    ConvCase(g: ConvGeometry(batch: 2, inHeight: 20, inWidth: 18, inChannels: 3, kernelHeight: 7, kernelWidth: 7, outChannels: 64, strideH: 2, strideW: 2, padTop: 3, padBottom: 3, padLeft: 3, padRight: 3), threads: 2),
    // Too few pixels for a tile per thread: whole panels of channels per thread.
    ConvCase(g: ConvGeometry(batch: 1, inHeight: 3, inWidth: 3, inChannels: 8, kernelHeight: 3, kernelWidth: 3, outChannels: 96, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), threads: 2),
    // Rows of A 8 KiB apart: packed before the products (float32), or
    // converted a cache line further apart (bfloat16); 14 rows, a tile of 12
    // and 2 left over.
    ConvCase(g: ConvGeometry(batch: 1, inHeight: 2, inWidth: 7, inChannels: 2048, kernelHeight: 1, kernelWidth: 1, outChannels: 32), threads: 1),
]

/// bfloat16 rounds each factor to 8 significant bits (relative error at most
/// 2⁻⁹ each, so 2⁻⁸ per product); the float32 sums add the direct bound. A
/// wrong packing, pairing or tile is off by O(1).
func bfloat16Tolerance(_ k: Int) -> Double { 0x1p-8 + dotProductTolerance(k) }

@Test("Conv2D on Graft's own GEMM, epilogue in registers, matches the reference loop",
      .enabled(if: PackedKernel.isAvailable()), arguments: packedConvCases)
func packedConvolutionMatchesReference(_ c: ConvCase) throws {
    try checkPackedConvolution(c, precision: .float32)
}

@Test("Conv2D on Graft's own GEMM in bfloat16 matches the reference loop within bfloat16's rounding",
      .enabled(if: PackedKernel.isAvailable(.bfloat16)), arguments: packedConvCases)
func bfloat16ConvolutionMatchesReference(_ c: ConvCase) throws {
    try checkPackedConvolution(c, precision: .bfloat16)
}

func checkPackedConvolution(_ c: ConvCase, precision: Precision) throws {
    let tolerance = precision == .float32 ? dotProductTolerance : bfloat16Tolerance
    var random = TestRandom(43)
    let g = c.g
    let input = random.tensor([g.batch, g.inHeight, g.inWidth, g.inChannels])
    let kernel = random.tensor([g.kernelHeight, g.kernelWidth, g.inChannels, g.outChannels])
    let bias = random.tensor([g.outChannels]), residual = random.tensor([g.outPixels * g.outChannels])
    let packed = try #require(PackedKernel.pack(kernel.data, rows: g.patchSize, columns: g.outChannels,
                                                precision: precision))
    let output = Tensor(shape: [g.outPixels * g.outChannels])
    let workspace = Tensor(shape: [Conv2D.workspaceSize(g, threads: c.threads)])
    Conv2D.forward(g, input: input.data, kernel: kernel.data, packed: packed, output: output.data,
                   epilogue: Epilogue(bias: bias.data, residual: residual.data, relu: true),
                   workspace: workspace.data, threads: c.threads)
    withExtendedLifetime(workspace) {}  // the kernel used workspace.data until here
    let (expected, magnitudes) = referenceConvResidualReLU(g, input: input, kernel: kernel, bias: bias,
                                                           residual: residual)
    #expect(worstRelativeError(output.data, expected, magnitudes) <= tolerance(g.patchSize))
    #expect(output.array.contains(0) && output.array.allSatisfy { $0 >= 0 })

    // The input gradient through the kernel's packed transpose.
    guard PackedKernel.applies(rows: g.outChannels, columns: g.patchSize) else { return }
    let transpose = try #require(PackedKernel.pack(kernel.data, rows: g.outChannels, columns: g.patchSize,
                                                   transposed: true, precision: precision))
    let dOutput = random.tensor([g.outPixels, g.outChannels])
    let dInput = Tensor(shape: input.shape)
    let scratch = Tensor(shape: [Conv2D.backwardWorkspaceSize(g, threads: c.threads)])
    Conv2D.backward(g, input: input.data, kernel: kernel.data, packedTranspose: transpose, dOutput: dOutput.data,
                    dInput: dInput.data, dKernel: nil, dBias: nil, workspace: scratch.data, threads: c.threads)
    withExtendedLifetime(scratch) {}
    let gradient = referenceConvInputGradient(g, kernel: kernel, dOutput: dOutput)
    #expect(worstRelativeError(dInput.data, gradient.values, gradient.magnitudes)
            <= tolerance(g.kernelHeight * g.kernelWidth * g.outChannels))
}

@Test("a packed B, transposed or not, times the identity is B exactly", .enabled(if: PackedKernel.isAvailable()),
      arguments: [false, true])
func packingLayout(transposed: Bool) throws {
    var random = TestRandom(59)
    // 37 rows: the transposed packing moves 16x16 blocks, and then a tail of 5.
    let (rows, columns) = (37, 64)
    let matrix = random.tensor([rows * columns])
    let packed = try #require(PackedKernel.pack(matrix.data, rows: rows, columns: columns, transposed: transposed))
    let identity = Tensor(shape: [rows, rows])
    for i in 0..<rows { identity.data[i * rows + i] = 1 }
    let c = Tensor(shape: [rows, columns])
    packed.multiply(rows: rows, a: identity.data, lda: rows, c: c.data, ldc: columns)
    let b = (0..<rows * columns).map { i in
        let (r, col) = (i / columns, i % columns)
        return transposed ? matrix.data[col * rows + r] : matrix.data[r * columns + col]
    }
    #expect(c.array == b)
}

@Test("a streamed product is the stored one, bit for bit, aligned or not",
      .enabled(if: PackedKernel.isAvailable()), arguments: Precision.allCases)
func streamedProductMatchesStored(precision: Precision) throws {
    guard PackedKernel.isAvailable(precision) else { return }
    var random = TestRandom(61)
    // 29 rows: two 12-row tiles and 5 single rows. C's rows 80 floats apart
    // start on 64 bytes at offset 0 (streamed) and not at offset 1 (stored).
    let (m, k, n, ldc) = (29, 40, 64, 80)
    let a = random.tensor([m * k]), b = random.tensor([k * n]), bias = random.tensor([n])
    let residual = random.tensor([m * ldc + 1])
    let packed = try #require(PackedKernel.pack(b.data, rows: k, columns: n, precision: precision,
                                                inputRange: precision == .int8 ? 1 : nil))
    for offset in [0, 1] {
        var results: [[Float]] = []
        for streamed in [false, true] {
            let c = Tensor(shape: [m * ldc + 1])
            packed.multiply(rows: m, a: a.data, lda: k, c: c.data + offset, ldc: ldc,
                            epilogue: Epilogue(bias: bias.data, residual: residual.data + offset, relu: true),
                            streamed: streamed)
            results.append(c.array)
        }
        let identical = results[0] == results[1]
        #expect(identical, "C at offset \(offset)")
        #expect(results[1].contains { $0 > 0 })
    }
}

@Test("the transpose moves every value, in 16x16 blocks and at the edges", .enabled(if: PackedKernel.isAvailable()))
func transposeMovesEveryValue() {
    var random = TestRandom(71)
    // 37 × 45 within wider rows: two blocks each way, edges of 5 and 13.
    let (rows, columns, lda, ldb) = (37, 45, 50, 40)
    let a = random.tensor([rows * lda]), b = Tensor(shape: [columns * ldb])
    graft_transpose(rows, columns, a.data, lda, b.data, ldb)
    var moved = true
    for i in 0..<rows {
        for j in 0..<columns where b.data[j * ldb + i] != a.data[i * lda + j] { moved = false }
    }
    #expect(moved)
}

@Test("packing on two threads gives the packing of one", .enabled(if: PackedKernel.isAvailable()),
      arguments: [false, true])
func packingOnThreads(transposed: Bool) throws {
    var random = TestRandom(53)
    // Large enough to be split: 9 panels of 32 columns, shared 5 and 4.
    let (rows, columns) = (256, 288)
    let matrix = random.tensor([rows * columns]), a = random.tensor([12, rows])
    var products: [[Float]] = []
    for threads in [1, 2] {
        let storage = Tensor(shape: [rows * columns])
        let packed = PackedKernel.pack(matrix.data, rows: rows, columns: columns, transposed: transposed,
                                       into: storage, at: 0, threads: threads)
        let c = Tensor(shape: [12, columns])
        packed.multiply(rows: 12, a: a.data, lda: rows, c: c.data, ldc: columns)
        products.append(c.array)
    }
    #expect(products[0] == products[1])
    // And the product is A·B: spot-check one entry against a plain loop.
    let b = { (r: Int, col: Int) in transposed ? matrix.data[col * rows + r] : matrix.data[r * columns + col] }
    let expected = (0..<rows).reduce(0.0) { $0 + Double(a.data[5 * rows + $1]) * Double(b($1, 200)) }
    #expect(abs(Double(products[0][5 * columns + 200]) - expected) <= 1e-4 * max(1, abs(expected)))
}

@Test("Winograd's products on Graft's own GEMM, forward and input gradient, match the reference loop",
      .enabled(if: PackedKernel.isAvailable()), arguments: WinogradTile.allCases)
func packedWinogradMatchesReference(tile: WinogradTile) throws {
    try checkPackedWinograd(tile, precision: .float32)
}

@Test("Winograd's products in bfloat16 match the reference loop within bfloat16's rounding",
      .enabled(if: PackedKernel.isAvailable(.bfloat16)), arguments: WinogradTile.allCases)
func bfloat16WinogradMatchesReference(tile: WinogradTile) throws {
    try checkPackedWinograd(tile, precision: .bfloat16)
}

/// Winograd's forward pass with U packed in `precision`, and (in float32)
/// the input gradient with the turned kernel's transform packed, against
/// the reference loops. In float32 the transforms scale the rounding as
/// `winogradTolerance` says. In bfloat16, rounding U and V to 8 bits
/// dominates, scaled by the transforms: 16x bfloat16's bound (measured
/// errors: 0.0014 with F(2x2), 0.019 with F(4x4), against 0.0625).
func checkPackedWinograd(_ tile: WinogradTile, precision: Precision) throws {
    let tolerance = { k in precision == .float32 ? winogradTolerance(tile, k) : 16 * bfloat16Tolerance(k) }
    var random = TestRandom(47)
    let g = ConvGeometry(batch: 2, inHeight: 7, inWidth: 5, inChannels: 32, kernelHeight: 3, kernelWidth: 3,
                         outChannels: 64, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
    let input = random.tensor([2, 7, 5, 32]), kernel = random.tensor([3, 3, 32, 64]), bias = random.tensor([64])
    let u = Winograd3x3.transformKernel(kernel.data, inChannels: 32, outChannels: 64, tile: tile)
    let packed = try #require(Winograd3x3.packTransformedKernel(u.data, inChannels: 32, outChannels: 64, tile: tile,
                                                                precision: precision))
    let output = Tensor(shape: [g.outPixels * 64])
    let workspace = Tensor(shape: [Winograd3x3.workspaceSize(g, threads: 2)])
    Winograd3x3.forward(g, tile: tile, input: input.data, transformedKernel: nil, packed: packed, output: output.data,
                        epilogue: Epilogue(bias: bias.data), workspace: workspace.data, threads: 2)
    let expected = referenceConv(g, input: input, kernel: kernel, bias: bias)
    #expect(worstRelativeError(output.data, expected.values, expected.magnitudes) <= tolerance(g.patchSize))
    guard precision == .float32 else { return }

    // Transformed straight into the panels (two of them here): the same
    // operands, so the same output, bit for bit.
    let panels = Tensor(shape: [tile.matrices * 32 * 64]), again = Tensor(shape: output.shape)
    let transformedPacked = try #require(Winograd3x3.transformKernelPacked(
        kernel.data, inChannels: 32, outChannels: 64, tile: tile, into: panels, threads: 2))
    Winograd3x3.forward(g, tile: tile, input: input.data, transformedKernel: nil, packed: transformedPacked,
                        output: again.data, epilogue: Epilogue(bias: bias.data), workspace: workspace.data, threads: 2)
    #expect(zip(again.array, output.array).filter { $0 != $1 }.isEmpty)

    let dOutput = random.tensor([g.outPixels, 64]), dInput = Tensor(shape: input.shape)
    let turnedPanels = Tensor(shape: [tile.matrices * 32 * 64]), turned = Tensor(shape: [9 * 32 * 64])
    Winograd3x3.turnKernel(kernel.data, inChannels: 32, outChannels: 64, into: turned.data, threads: 2)
    let packedTurned = try #require(Winograd3x3.transformKernelPacked(
        turned.data, inChannels: 64, outChannels: 32, tile: tile, into: turnedPanels, threads: 2))
    Winograd3x3.inputGradient(g, tile: tile, dOutput: dOutput.data, transformedTurnedKernel: nil,
                              packed: packedTurned, dInput: dInput.data, workspace: workspace.data, threads: 2)
    withExtendedLifetime((workspace, turned)) {}
    let gradient = referenceConvInputGradient(g, kernel: kernel, dOutput: dOutput)
    #expect(worstRelativeError(dInput.data, gradient.values, gradient.magnitudes) <= tolerance(9 * 64))
}

@Test("\"same\" padding follows TensorFlow: ceil(size/stride) outputs, odd pixel after")
func samePadding() {
    #expect(ConvGeometry.samePadding(size: 25, kernel: 3, stride: 1) == (1, 1))
    #expect(ConvGeometry.samePadding(size: 10, kernel: 3, stride: 2) == (0, 1))
    #expect(ConvGeometry.samePadding(size: 11, kernel: 3, stride: 2) == (1, 1))
    #expect(ConvGeometry.samePadding(size: 4, kernel: 1, stride: 2) == (0, 0))
}

@Test("MaxPooling2D with zero padding matches ZeroPadding2D then a plain max")
func maxPoolMatchesReference() {
    var random = TestRandom(3)
    for (h, w, pad) in [(10, 9, 1), (7, 7, 0), (6, 11, 1)] {
        let g = ConvGeometry(batch: 2, inHeight: h, inWidth: w, inChannels: 5, kernelHeight: 3, kernelWidth: 3,
                             outChannels: 5, strideH: 2, strideW: 2,
                             padTop: pad, padBottom: pad, padLeft: pad, padRight: pad)
        // Negative values make the padding's zeros matter at the border.
        let input = random.tensor([2, h, w, 5])
        let output = Tensor(shape: [g.outPixels * 5])
        maxPool2D(g, input: input.data, output: output.data, threads: 2)
        #expect(output.array == referenceMaxPool(g, input: input))
    }
}

@Test("ZeroPadding2D copies the image into a zero border, and its backward pass takes the middle back")
func zeroPadding() {
    var random = TestRandom(5)
    let input = random.tensor([2, 3, 4, 2])
    // The output held other values: every one must be written.
    let output = random.tensor([2 * 6 * 7 * 2])
    zeroPad2D(input: input.data, batch: 2, height: 3, width: 4, channels: 2,
              top: 1, bottom: 2, left: 1, right: 2, output: output.data, threads: 2)
    let dInput = random.tensor([2, 3, 4, 2])
    zeroPad2DBackward(dOutput: output.data, batch: 2, height: 3, width: 4, channels: 2, top: 1, left: 1,
                      outHeight: 6, outWidth: 7, dInput: dInput.data, threads: 2)
    #expect(dInput.array == input.array)
    for n in 0..<2 {
        for y in 0..<6 {
            for x in 0..<7 {
                for c in 0..<2 {
                    let (sy, sx) = (y - 1, x - 1)
                    let inside = sy >= 0 && sy < 3 && sx >= 0 && sx < 4
                    let expected = inside ? input.data[((n * 3 + sy) * 4 + sx) * 2 + c] : 0
                    #expect(output.data[((n * 6 + y) * 7 + x) * 2 + c] == expected)
                }
            }
        }
    }
}

@Test("BatchNormalization in inference mode, applied and folded into a convolution")
func batchNormalization() {
    var random = TestRandom(9)
    let c = 6
    let gamma = random.tensor([c]), beta = random.tensor([c]), mean = random.tensor([c])
    let variance = Tensor(shape: [c], values: (0..<c).map { Float($0) * 0.3 + 0.5 })
    let eps: Float = 1.001e-5
    let bn = BatchNormAffine(gamma: gamma.data, beta: beta.data, movingMean: mean.data,
                             movingVariance: variance.data, channels: c, epsilon: eps)
    let x = random.tensor([4, c])
    let y = Tensor(shape: [4 * c])
    bn.apply(input: x.data, pixels: 4, output: y.data)
    for p in 0..<4 {
        for ch in 0..<c {
            let expected = Double(gamma.data[ch]) * (Double(x.data[p * c + ch]) - Double(mean.data[ch]))
                / (Double(variance.data[ch]) + Double(eps)).squareRoot() + Double(beta.data[ch])
            #expect(abs(Double(y.data[p * c + ch]) - expected) <= 1e-5 * max(1, abs(expected)))
        }
    }

    // conv → BN equals the convolution with the folded kernel and bias.
    let g = ConvGeometry(batch: 1, inHeight: 4, inWidth: 4, inChannels: 3, kernelHeight: 3, kernelWidth: 3,
                         outChannels: c, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
    let input = random.tensor([1, 4, 4, 3]), kernel = random.tensor([3, 3, 3, c]), bias = random.tensor([c])
    let workspace = Tensor(shape: [Conv2D.workspaceSize(g, threads: 1)])
    let convOut = Tensor(shape: [g.outPixels * c]), bnOut = Tensor(shape: [g.outPixels * c])
    Conv2D.forward(g, input: input.data, kernel: kernel.data, output: convOut.data,
                   epilogue: Epilogue(bias: bias.data), workspace: workspace.data, threads: 1)
    bn.apply(input: convOut.data, pixels: g.outPixels, output: bnOut.data)
    let foldedKernel = kernel.copy(), foldedBias = bias.copy()
    bn.fold(kernel: foldedKernel.data, kernelCount: foldedKernel.count, bias: foldedBias.data)
    let folded = Tensor(shape: [g.outPixels * c])
    Conv2D.forward(g, input: input.data, kernel: foldedKernel.data, output: folded.data,
                   epilogue: Epilogue(bias: foldedBias.data), workspace: workspace.data, threads: 1)
    withExtendedLifetime(workspace) {}  // the kernel used workspace.data until here
    for i in 0..<folded.count {
        #expect(abs(folded.data[i] - bnOut.data[i]) <= 1e-5 * max(1, abs(bnOut.data[i])))
    }
}

@Test("BatchNormalization's backward pass, with and without the ReLU after it, against plain loops",
      arguments: [false, true])
func batchNormalizationBackward(relu: Bool) {
    var random = TestRandom(10)
    // 40 channels: two 16-wide vectors and a tail of 8; 300 pixels: several
    // blocks of float sums, split over two threads.
    let c = 40, pixels = 300
    let gamma = random.tensor([c]), beta = random.tensor([c]), mean = random.tensor([c])
    let variance = Tensor(shape: [c], values: (0..<c).map { Float($0) * 0.1 + 0.5 })
    let eps: Float = 1e-3
    let bn = BatchNormAffine(gamma: gamma.data, beta: beta.data, movingMean: mean.data,
                             movingVariance: variance.data, channels: c, epsilon: eps)
    let x = random.tensor([pixels, c]), dY = random.tensor([pixels, c])
    let y = Tensor(shape: [pixels, c])
    bn.apply(input: x.data, pixels: pixels, output: y.data, relu: true)
    let dX = Tensor(shape: [pixels, c])
    // The sums are added to what is there.
    let dGamma = Tensor(shape: [c], values: [Float](repeating: 1, count: c))
    let dBeta = Tensor(shape: [c], values: [Float](repeating: -1, count: c))
    bn.backward(input: x.data, dOutput: dY.data, pixels: pixels, gamma: gamma.data, movingMean: mean.data,
                dInput: dX.data, dGamma: dGamma.data, dBeta: dBeta.data, reluFollows: relu, threads: 2)
    for ch in 0..<c {
        let inverseStd = 1 / (Double(variance.data[ch]) + Double(eps)).squareRoot()
        var sumDy = 0.0, sumDyXHat = 0.0, magnitude = 0.0
        for p in 0..<pixels {
            let i = p * c + ch
            let dy = relu && y.data[i] <= 0 ? 0 : Double(dY.data[i])
            let xHat = (Double(x.data[i]) - Double(mean.data[ch])) * inverseStd
            #expect(abs(Double(dX.data[i]) - dy * Double(gamma.data[ch]) * inverseStd) <= 1e-6 * max(1, abs(dy)))
            sumDy += dy
            sumDyXHat += dy * xHat
            magnitude += abs(dy) * max(1, abs(xHat))
        }
        // float sums of 64 terms: well under 1e-5 of the sum of |terms|.
        #expect(abs(Double(dBeta.data[ch]) - (sumDy - 1)) <= 1e-5 * magnitude)
        #expect(abs(Double(dGamma.data[ch]) - (sumDyXHat + 1)) <= 1e-5 * magnitude)
    }

    // Without dInput, and without the sums: the others are unchanged.
    let dX2 = Tensor(shape: [pixels, c])
    bn.backward(input: x.data, dOutput: dY.data, pixels: pixels, gamma: gamma.data, movingMean: mean.data,
                dInput: dX2.data, dGamma: nil, dBeta: nil, reluFollows: relu, threads: 2)
    #expect(dX2.array == dX.array)
    let dGamma2 = Tensor(shape: [c]), dBeta2 = Tensor(shape: [c])
    bn.backward(input: x.data, dOutput: dY.data, pixels: pixels, gamma: gamma.data, movingMean: mean.data,
                dInput: nil, dGamma: dGamma2.data, dBeta: dBeta2.data, reluFollows: relu, threads: 2)
    for ch in 0..<c {  // the same sums, added to 0 rather than ±1
        #expect(abs(dGamma2.data[ch] + 1 - dGamma.data[ch]) <= 1e-6 * max(1, abs(dGamma.data[ch])))
        #expect(abs(dBeta2.data[ch] - 1 - dBeta.data[ch]) <= 1e-6 * max(1, abs(dBeta.data[ch])))
    }
}

@Test("ReLU, Add, GlobalAveragePooling2D and Dense match plain loops")
func elementwiseAndDense() {
    var random = TestRandom(13)
    let a = random.tensor([50]), b = random.tensor([50])
    let out = Tensor(shape: [50])
    relu(input: a.data, count: 50, output: out.data)
    #expect(out.array == a.array.map { $0 < 0 ? 0 : $0 })
    add(a.data, b.data, count: 50, output: out.data)
    #expect(out.array == zip(a.array, b.array).map { $0 + $1 })

    let x = random.tensor([2, 3, 4, 5])
    let pooled = Tensor(shape: [10])
    globalAveragePool(input: x.data, batch: 2, height: 3, width: 4, channels: 5, output: pooled.data)
    for n in 0..<2 {
        for c in 0..<5 {
            var sum = 0.0
            for p in 0..<12 { sum += Double(x.data[(n * 12 + p) * 5 + c]) }
            #expect(abs(Double(pooled.data[n * 5 + c]) - sum / 12) <= 1e-6)
        }
    }

    let inputs = 37, units = 11
    let v = random.tensor([3, inputs]), kernel = random.tensor([inputs, units]), bias = random.tensor([units])
    let y = Tensor(shape: [3 * units])
    dense(input: v.data, batch: 3, inputs: inputs, kernel: kernel.data, bias: bias.data, units: units, output: y.data)
    for n in 0..<3 {
        for u in 0..<units {
            var sum = Double(bias.data[u]), mag = abs(sum)
            for i in 0..<inputs {
                let p = Double(v.data[n * inputs + i]) * Double(kernel.data[i * units + u])
                sum += p
                mag += abs(p)
            }
            #expect(abs(Double(y.data[n * units + u]) - sum) <= dotProductTolerance(inputs) * mag)
        }
    }
}

/// Winograd's transforms scale the rounding error of its products over the
/// direct method's by a constant of the tiling. F(2x2)'s coefficients are
/// ±1 and ±½ (each 1-D transform sums at most 3 terms, applied twice on each
/// side): 16x the direct bound covers it. F(4x4)'s reach 5 (Bᵀ) and 8 (Aᵀ),
/// and G's sixths and 24ths are not exact in binary: measured about 10x
/// F(2x2)'s error on these cases, up to 6x the direct bound; 16x F(2x2)'s
/// scale covers that with margin. A wrong block, padding or transform is
/// off by O(1), far past either.
func winogradErrorScale(_ tile: WinogradTile) -> Double { tile == .f2x2 ? 16 : 256 }
func winogradTolerance(_ tile: WinogradTile, _ k: Int) -> Double { winogradErrorScale(tile) * dotProductTolerance(k) }

@Test("Winograd matches the reference loop", arguments: [
    (1, 4, 4, 8, 8, 1, Conv2D.defaultTileBudget),
    (2, 7, 5, 16, 24, 2, Conv2D.defaultTileBudget),   // odd sizes: partial edge blocks
    (3, 6, 9, 8, 16, 2, 16 * 24 * 9),                 // several chunks per worker
    (2, 1, 3, 8, 8, 2, Conv2D.defaultTileBudget),     // one pixel high
    (2, 9, 10, 8, 16, 2, Conv2D.defaultTileBudget),   // 3x3 blocks of F(4x4), edges in both
], WinogradTile.allCases)
func winogradMatchesReference(_ shape: (Int, Int, Int, Int, Int, Int, Int), tile: WinogradTile) throws {
    let (batch, height, width, cin, cout, threads, tileBudget) = shape
    var random = TestRandom(17)
    let g = same3x3(batch: batch, height: height, width: width, cin: cin, cout: cout)
    try #require(Winograd3x3.applies(to: g))
    let input = random.tensor([batch, height, width, cin])
    let kernel = random.tensor([3, 3, cin, cout]), bias = random.tensor([cout])
    let residual = random.tensor([g.outPixels * cout])
    let u = Winograd3x3.transformKernel(kernel.data, inChannels: cin, outChannels: cout, tile: tile)
    let output = Tensor(shape: [g.outPixels * cout])
    let workspace = Tensor(shape: [Winograd3x3.workspaceSize(g, threads: threads, tileBudget: tileBudget)])
    Winograd3x3.forward(g, tile: tile, input: input.data, transformedKernel: u.data, output: output.data,
                        epilogue: Epilogue(bias: bias.data, residual: residual.data, relu: true),
                        workspace: workspace.data, threads: threads, tileBudget: tileBudget)
    withExtendedLifetime((workspace, u)) {}  // the kernel used their data until here
    let (expected, magnitudes) = referenceConvResidualReLU(g, input: input, kernel: kernel, bias: bias,
                                                           residual: residual)
    #expect(worstRelativeError(output.data, expected, magnitudes) <= winogradTolerance(tile, g.patchSize))
}

/// A 3x3 "same" convolution, stride 1: the shape Winograd computes.
func same3x3(batch: Int, height: Int, width: Int, cin: Int, cout: Int) -> ConvGeometry {
    ConvGeometry(batch: batch, inHeight: height, inWidth: width, inChannels: cin, kernelHeight: 3, kernelWidth: 3,
                 outChannels: cout, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
}

/// The workspace a size function asks for, then a guard band that a kernel
/// must leave untouched.
final class GuardedWorkspace {
    private let tensor: Tensor
    private let size: Int
    private static let guardBand = 64, mark: Float = 1234.5

    init(_ size: Int) {
        self.size = size
        tensor = Tensor(shape: [size + GuardedWorkspace.guardBand])
        (tensor.data + size).update(repeating: GuardedWorkspace.mark, count: GuardedWorkspace.guardBand)
    }

    var data: UnsafeMutablePointer<Float> { tensor.data }
    var isIntact: Bool { tensor.array.suffix(GuardedWorkspace.guardBand).allSatisfy { $0 == GuardedWorkspace.mark } }
}

@Test("the input gradient of a convolution, by im2col and by Winograd, matches the reference loop", arguments: [
    (2, 7, 5, 16, 24, 2),   // odd sizes: partial edge blocks
    (1, 4, 4, 8, 8, 1),
    (1, 5, 6, 8, 24, 1),    // more output than input channels, one worker: its whole workspace
    (3, 1, 3, 8, 16, 2),    // one pixel high
], WinogradTile.allCases)
func convolutionInputGradientMatchesReference(_ shape: (Int, Int, Int, Int, Int, Int), tile: WinogradTile) throws {
    let (batch, height, width, cin, cout, threads) = shape
    var random = TestRandom(29)
    let g = same3x3(batch: batch, height: height, width: width, cin: cin, cout: cout)
    try #require(Winograd3x3.applies(to: g))
    let input = random.tensor([batch, height, width, cin]), kernel = random.tensor([3, 3, cin, cout])
    let dOutput = random.tensor([g.outPixels, cout])
    let expected = referenceConvInputGradient(g, kernel: kernel, dOutput: dOutput)
    // The im2col path: dY·Wᵀ, then col2im.
    let direct = Tensor(shape: input.shape)
    let scratch = Tensor(shape: [Conv2D.backwardWorkspaceSize(g, threads: threads)])
    Conv2D.backward(g, input: input.data, kernel: kernel.data, dOutput: dOutput.data, dInput: direct.data,
                    dKernel: nil, dBias: nil, workspace: scratch.data, threads: threads)
    #expect(worstRelativeError(direct.data, expected.values, expected.magnitudes) <= dotProductTolerance(9 * cout))
    // Winograd on the turned kernel, by OpenBLAS.
    let turned = Tensor(shape: [3, 3, cout, cin])
    Winograd3x3.turnKernel(kernel.data, inChannels: cin, outChannels: cout, into: turned.data, threads: threads)
    let u = Winograd3x3.transformKernel(turned.data, inChannels: cout, outChannels: cin, tile: tile)
    let winograd = Tensor(shape: input.shape)
    let workspace = GuardedWorkspace(Winograd3x3.workspaceSize(g, threads: threads))
    Winograd3x3.inputGradient(g, tile: tile, dOutput: dOutput.data, transformedTurnedKernel: u.data,
                              dInput: winograd.data, workspace: workspace.data, threads: threads)
    withExtendedLifetime((input, kernel, dOutput, scratch, workspace, u)) {}
    #expect(worstRelativeError(winograd.data, expected.values, expected.magnitudes)
        <= winogradTolerance(tile, 9 * cout))
    #expect(workspace.isIntact, "the workspace overflowed")
}

@Test("the kernel gradient of a convolution, by im2col and by Winograd, matches the reference loop", arguments: [
    (2, 7, 5, 16, 24, 2, Conv2D.defaultTileBudget),   // odd sizes: partial edge blocks
    (1, 4, 4, 8, 8, 1, Conv2D.defaultTileBudget),
    (3, 6, 9, 8, 16, 2, 16 * 24 * 9),                 // several chunks of blocks
    (3, 1, 3, 24, 8, 2, Conv2D.defaultTileBudget),    // one pixel high, more input than output channels
    // Output channels in whole panels of 32: the products on Graft's own
    // kernel, with rows left over from its 12-row tiles (56 = 4·12 + 8,
    // 40 = 3·12 + 4), in two chunks and in one.
    (2, 9, 6, 56, 32, 2, 16 * 88 * 9),
    (1, 4, 4, 40, 64, 1, Conv2D.defaultTileBudget),
    // im2col rows of one image per group (Conv2D.backwardGroup): worker 0
    // sums two groups (288 × 32 and 576 × 128 weights).
    (3, 64, 64, 32, 32, 2, Conv2D.defaultTileBudget),
    (3, 44, 44, 64, 128, 2, Conv2D.defaultTileBudget),
], WinogradTile.allCases)
func convolutionKernelGradientMatchesReference(_ shape: (Int, Int, Int, Int, Int, Int, Int),
                                               tile: WinogradTile) throws {
    let (batch, height, width, cin, cout, threads, tileBudget) = shape
    var random = TestRandom(31)
    let g = same3x3(batch: batch, height: height, width: width, cin: cin, cout: cout)
    try #require(Winograd3x3.applies(to: g))
    let input = random.tensor([batch, height, width, cin]), kernel = random.tensor([3, 3, cin, cout])
    let dOutput = random.tensor([g.outPixels, cout])
    // Both overwrite what the gradient holds.
    let start = random.tensor([3, 3, cin, cout])
    let (expected, magnitudes) = referenceConvKernelGradient(g, input: input, dOutput: dOutput)
    let pixels = batch * height * width
    // The im2col path: colsᵀ·dY.
    let direct = start.copy()
    let scratch = Tensor(shape: [Conv2D.backwardWorkspaceSize(g, threads: threads)])
    Conv2D.backward(g, input: input.data, kernel: kernel.data, dOutput: dOutput.data, dInput: nil,
                    dKernel: direct.data, dBias: nil, workspace: scratch.data, threads: threads)
    #expect(worstRelativeError(direct.data, expected, magnitudes) <= dotProductTolerance(pixels))
    let winograd = start.copy(), dU = Tensor(shape: [tile.matrices, cin, cout])
    let workspace = GuardedWorkspace(Winograd3x3.workspaceSize(g, threads: threads, tileBudget: tileBudget))
    Winograd3x3.kernelGradient(g, tile: tile, input: input.data, dOutput: dOutput.data, dKernel: winograd.data,
                               dU: dU.data, workspace: workspace.data, threads: threads, tileBudget: tileBudget)
    #expect(worstRelativeError(winograd.data, expected, magnitudes) <= winogradTolerance(tile, pixels))
    #expect(workspace.isIntact, "the workspace overflowed")

    // Both add to what the gradient holds when accumulating (a micro-batch's
    // gradient into its batch's sum): start + the gradient, within the
    // same tolerances of start's and the gradient's magnitudes together.
    let sum = zip(start.array, expected).map { Double($0) + $1 }
    let sumMagnitudes = zip(start.array, magnitudes).map { abs(Double($0)) + $1 }
    let directSum = start.copy(), winogradSum = start.copy()
    Conv2D.backward(g, input: input.data, kernel: kernel.data, dOutput: dOutput.data, dInput: nil,
                    dKernel: directSum.data, dBias: nil, accumulateKernel: true, workspace: scratch.data,
                    threads: threads)
    Winograd3x3.kernelGradient(g, tile: tile, input: input.data, dOutput: dOutput.data, dKernel: winogradSum.data,
                               dU: dU.data, workspace: workspace.data, threads: threads, tileBudget: tileBudget,
                               accumulate: true)
    withExtendedLifetime((input, kernel, dOutput, scratch, workspace, dU)) {}
    #expect(worstRelativeError(directSum.data, sum, sumMagnitudes) <= dotProductTolerance(pixels))
    #expect(worstRelativeError(winogradSum.data, sum, sumMagnitudes) <= winogradTolerance(tile, pixels))
}

@Test("a pointwise convolution's gradients, one image per group, match the reference loops")
func pointwiseBackwardInGroupsMatchesReference() {
    var random = TestRandom(37)
    // 16x16 images of 64 channels to 256: their rows and dY's, 320 KiB an
    // image, make groups of one (Conv2D.backwardGroup), so each of the two
    // workers sums two groups.
    let g = ConvGeometry(batch: 4, inHeight: 16, inWidth: 16, inChannels: 64, kernelHeight: 1, kernelWidth: 1,
                         outChannels: 256)
    let input = random.tensor([g.batch, g.inHeight, g.inWidth, g.inChannels])
    let kernel = random.tensor([1, 1, g.inChannels, g.outChannels])
    let dOutput = random.tensor([g.outPixels, g.outChannels])
    // Both gradients are overwritten, whatever they held.
    let dKernel = random.tensor([1, 1, g.inChannels, g.outChannels]), dInput = random.tensor(input.shape)
    let transpose = PackedKernel.pack(kernel.data, rows: g.outChannels, columns: g.inChannels, transposed: true)
    let scratch = Tensor(shape: [Conv2D.backwardWorkspaceSize(g, threads: 2)])
    Conv2D.backward(g, input: input.data, kernel: kernel.data, packedTranspose: transpose, dOutput: dOutput.data,
                    dInput: dInput.data, dKernel: dKernel.data, dBias: nil, workspace: scratch.data, threads: 2)
    withExtendedLifetime(scratch) {}
    let (expected, magnitudes) = referenceConvKernelGradient(g, input: input, dOutput: dOutput)
    #expect(worstRelativeError(dKernel.data, expected, magnitudes) <= dotProductTolerance(g.outPixels))
    let gradient = referenceConvInputGradient(g, kernel: kernel, dOutput: dOutput)
    #expect(worstRelativeError(dInput.data, gradient.values, gradient.magnitudes) <= dotProductTolerance(g.outChannels))
}

@Test("a convolution's gradients for dY scaled per channel (outputScale) are those of the scaled dY",
      arguments: [(false, false), (false, true), (true, false), (true, true)])
func outputScaleMatchesScaledGradient(strided: Bool, packed: Bool) {
    var random = TestRandom(41)
    // A pointwise convolution, and ResNet's strided 1x1 shortcut (im2col);
    // 32 input channels, a whole panel of the packed transpose.
    let stride = strided ? 2 : 1
    let g = ConvGeometry(batch: 3, inHeight: 9, inWidth: 7, inChannels: 32, kernelHeight: 1, kernelWidth: 1,
                         outChannels: 64, strideH: stride, strideW: stride)
    let input = random.tensor([g.batch, g.inHeight, g.inWidth, g.inChannels])
    let kernel = random.tensor([1, 1, g.inChannels, g.outChannels])
    let dOutput = random.tensor([g.outPixels, g.outChannels]), scale = random.tensor([g.outChannels])
    let scaled = Tensor(shape: dOutput.shape), kernelStart = random.tensor(kernel.shape)
    for i in 0..<dOutput.count { scaled.data[i] = dOutput.data[i] * scale.data[i % g.outChannels] }
    /// dInput, dKernel and dBias from `dY`, with or without `outputScale`;
    /// the kernel's gradient added to `kernelStart` with `accumulate`.
    func gradients(_ dY: Tensor, outputScale: UnsafePointer<Float>?, accumulate: Bool = false) -> [[Float]] {
        let dInput = Tensor(shape: input.shape), dBias = Tensor(shape: [g.outChannels])
        let dKernel = accumulate ? kernelStart.copy() : Tensor(shape: kernel.shape)
        let transpose = packed ? PackedKernel.pack(kernel.data, rows: g.outChannels, columns: g.patchSize,
                                                   transposed: true, into: Tensor(shape: [kernel.count]), at: 0,
                                                   rowScale: outputScale) : nil
        let scratch = Tensor(shape: [Conv2D.backwardWorkspaceSize(g, threads: 2)])
        Conv2D.backward(g, input: input.data, kernel: kernel.data, packedTranspose: transpose, dOutput: dY.data,
                        dInput: dInput.data, dKernel: dKernel.data, dBias: dBias.data, outputScale: outputScale,
                        accumulateKernel: accumulate, workspace: scratch.data, threads: 2)
        withExtendedLifetime(scratch) {}
        return [dInput.array, dKernel.array, dBias.array]
    }
    if packed && !PackedKernel.isAvailable() { return }
    let expected = gradients(scaled, outputScale: nil), folded = gradients(dOutput, outputScale: scale.data)
    #expect(expected.allSatisfy { $0.contains { $0 != 0 } })
    // Each sum's terms differ only in where the scale multiplies, (dY·s)·x
    // against (dY·x)·s: a rounding or two apart, relative to the larger of
    // the value and 1.
    for (gradient, (name, terms)) in [("dInput", g.outChannels), ("dKernel", g.outPixels),
                                      ("dBias", g.outPixels)].enumerated() {
        let worst = zip(expected[gradient], folded[gradient])
            .map { abs(Double($0) - Double($1)) / max(1, abs(Double($0))) }.max() ?? 0
        #expect(worst <= 4 * dotProductTolerance(terms), "\(name): \(worst)")
    }
    // Added to a running sum, the scaled kernel gradient is that sum plus
    // the one just checked, whichever worker's share it came from.
    let accumulated = gradients(dOutput, outputScale: scale.data, accumulate: true)[1]
    let start = kernelStart.array
    let worst = accumulated.indices.map { (i: Int) -> Double in
        let expected = Double(start[i]) + Double(folded[1][i])
        return abs(Double(accumulated[i]) - expected) / max(1, abs(expected))
    }.max() ?? 0
    #expect(worst <= 4 * dotProductTolerance(g.outPixels), "accumulated dKernel: \(worst)")
}

@Test("an Add that applies the BatchNormalization before it equals the two passes",
      arguments: [false, true], [false, true])
func addNormalizedMatchesTwoPasses(relu: Bool, streamed: Bool) {
    var random = TestRandom(67)
    // 20 channels: a vector of 16 and a tail of 4; streamed, the first
    // pixel's vector is 64-byte aligned (stored past the caches), the
    // second's not.
    let (pixels, channels) = (3, 20)
    let a = random.tensor([pixels * channels]), b = random.tensor([pixels * channels])
    let gamma = random.tensor([channels]), beta = random.tensor([channels]), mean = random.tensor([channels])
    let variance = Tensor(shape: [channels], values: (0..<channels).map { 0.5 + Float($0) / 10 })
    let normalization = BatchNormAffine(gamma: gamma.data, beta: beta.data, movingMean: mean.data,
                                        movingVariance: variance.data, channels: channels, epsilon: 1e-3)
    // The normalisation's own pass, then the plain sum.
    let normalized = Tensor(shape: [pixels * channels])
    normalization.apply(input: b.data, pixels: pixels, output: normalized.data, streamed: streamed)
    let affine = (0..<pixels * channels).map { i in
        b.data[i] * normalization.scale[i % channels] + normalization.shift[i % channels]
    }
    #expect(normalized.array == affine)
    for (first, second) in [(nil, normalization), (normalization, nil), (normalization, normalization)] {
        let output = Tensor(shape: [pixels * channels])
        add(a.data, normalizedBy: first, b.data, normalizedBy: second, pixels: pixels, channels: channels,
            output: output.data, relu: relu, streamed: streamed)
        let expected = (0..<pixels * channels).map { i -> Float in
            let x = first == nil ? a.data[i] : a.data[i] * normalization.scale[i % channels] + normalization.shift[i % channels]
            let y = second == nil ? b.data[i] : normalized.data[i]
            return relu ? max(x + y, 0) : x + y
        }
        #expect(output.array == expected)
    }
}

@Test("ReLU's gradient passes dY (or its two terms' sum) where the output was positive", arguments: [false, true])
func reluBackwardMasksByOutput(twoTerms: Bool) {
    var random = TestRandom(73)
    // 37 values: two vectors of 16 and a tail of 5; outputs of zero too.
    let count = 37
    let output = random.tensor([count]), dOutput = random.tensor([count]), plus = random.tensor([count])
    for i in stride(from: 0, to: count, by: 3) { output.data[i] = max(output.data[i], 0) }
    let dInput = Tensor(shape: [count])
    reluBackward(output: output.data, dOutput: dOutput.data, plus: twoTerms ? plus.data : nil, count: count,
                 dInput: dInput.data)
    let expected = (0..<count).map { i -> Float in
        output.data[i] > 0 ? dOutput.data[i] + (twoTerms ? plus.data[i] : 0) : 0
    }
    #expect(dInput.array == expected)
    #expect(expected.contains(0) && expected.contains { $0 != 0 })
}

@Test("the bias gradient adds dY summed over the pixels", arguments: [1, 2])
func biasGradientSumsPixels(threads: Int) {
    var random = TestRandom(61)
    // 40 channels: two vectors of 16 and a tail of 8; 37 pixels, split unevenly.
    let (pixels, channels) = (37, 40)
    let dOutput = random.tensor([pixels, channels]), start = random.tensor([channels])
    let dBias = start.copy()
    Conv2D.biasGradient(dOutput: dOutput.data, pixels: pixels, channels: channels, dBias: dBias.data,
                        threads: threads)
    for c in 0..<channels {
        let column = (0..<pixels).map { Double(dOutput.data[$0 * channels + c]) }
        let expected = Double(start.data[c]) + column.reduce(0, +)
        let magnitude = abs(Double(start.data[c])) + column.map(abs).reduce(0, +)
        #expect(abs(Double(dBias.data[c]) - expected) <= dotProductTolerance(pixels) * magnitude, "channel \(c)")
    }
}

@Test("Winograd applies to 3x3 stride-1 same convolutions only")
func winogradApplicability() {
    let same = ConvGeometry(batch: 1, inHeight: 8, inWidth: 8, inChannels: 8, kernelHeight: 3, kernelWidth: 3,
                            outChannels: 8, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
    #expect(Winograd3x3.applies(to: same))
    var strided = same
    strided.strideH = 2
    strided.strideW = 2
    var unpadded = same
    unpadded.padTop = 0
    var oddChannels = same
    oddChannels.inChannels = 3
    var pointwise = same
    (pointwise.kernelHeight, pointwise.kernelWidth) = (1, 1)
    for g in [strided, unpadded, oddChannels, pointwise] { #expect(!Winograd3x3.applies(to: g)) }
}

@Test("MaxPooling2D's gradient goes to the first maximum of each window, as TensorFlow's", arguments: [
    (2, 9, 9, 20, 2),   // sixteen channels at a time and four alone
    (1, 7, 8, 16, 1),
])
func maxPoolBackwardMatchesReference(batch: Int, height: Int, width: Int, channels: Int, threads: Int) {
    var random = TestRandom(41)
    let g = ConvGeometry(batch: batch, inHeight: height, inWidth: width, inChannels: channels,
                         kernelHeight: 3, kernelWidth: 3, outChannels: channels, strideH: 2, strideW: 2)
    // Values on a coarse grid, so that windows hold ties.
    let input = random.tensor([batch, height, width, channels])
    for i in 0..<input.count { input.data[i] = (input.data[i] * 3).rounded() }
    let dOutput = random.tensor([g.outPixels, channels])
    var expected = [Float](repeating: 0, count: input.count)
    for n in 0..<batch {
        for y in 0..<g.outHeight {
            for x in 0..<g.outWidth {
                for c in 0..<channels {
                    var best = -Float.infinity, at = -1
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let row = n * height + 2 * y + ky, column = 2 * x + kx
                            let i = (row * width + column) * channels + c
                            let value = input.data[i]
                            if at < 0 || value > best {
                                best = value
                                at = i
                            }
                        }
                    }
                    let out = ((n * g.outHeight + y) * g.outWidth + x) * channels + c
                    expected[at] += dOutput.data[out]
                }
            }
        }
    }
    let dInput = Tensor(shape: input.shape)
    maxPool2DBackward(g, input: input.data, dOutput: dOutput.data, dInput: dInput.data, threads: threads)
    withExtendedLifetime((input, dOutput)) {}
    #expect(dInput.array == expected)
}

@Test("ReLU keeps a NaN, as TensorFlow's does, in Graft's GEMM epilogue (float32, bfloat16) and the elementwise pass",
      arguments: Precision.allCases)
func reluKeepsNaN(precision: Precision) throws {
    var random = TestRandom(67)
    let (m, k, n) = (13, 24, 32)
    let a = random.tensor([m * k]), b = random.tensor([k * n]), bias = random.tensor([n])
    a.data[5 * k + 3] = .nan   // row 5 of the product is NaN throughout
    if PackedKernel.isAvailable(precision) {
        let packed = try #require(PackedKernel.pack(b.data, rows: k, columns: n, precision: precision,
                                                    inputRange: precision == .int8 ? 1 : nil))
        let c = Tensor(shape: [m * n])
        packed.multiply(rows: m, a: a.data, lda: k, c: c.data, ldc: n,
                        epilogue: Epilogue(bias: bias.data, relu: true), streamed: false)
        let rows = (0..<m).map { Array(c.array[($0 * n)..<(($0 + 1) * n)]) }
        // int8 has no byte for NaN: it reads one as 0 (see graft_gemm_int8).
        #expect(rows[5].allSatisfy { precision == .int8 ? $0 >= 0 : $0.isNaN })
        #expect(rows.enumerated().allSatisfy { $0.offset == 5 || $0.element.allSatisfy { $0 >= 0 } })
    }
    let values: [Float] = [.nan, -1, 2, -.infinity, .infinity, -0.5, .nan, 3, 0, -2, 7, .nan, 1, -3, 5, 6, -.nan]
    let out = Tensor(shape: [values.count])
    values.withUnsafeBufferPointer { relu(input: $0.baseAddress!, count: values.count, output: out.data) }
    for (x, y) in zip(values, out.array) {
        #expect(x.isNaN ? y.isNaN : y == max(x, 0), "relu(\(x)) = \(y)")
    }
}

@Test("MaxPooling2D passes over NaN as TensorFlow's MaxPool: a window of NaN alone gives the lowest float")
func maxPoolPassesOverNaN() {
    // 16 channels (a whole vector) and 3 (the scalar tail), 2x2 windows.
    for c in [16, 3] {
        let g = ConvGeometry(batch: 1, inHeight: 2, inWidth: 4, inChannels: c, kernelHeight: 2, kernelWidth: 2,
                             outChannels: c, strideH: 2, strideW: 2)
        // Window 0: NaN first, then -5, -7, NaN (TF: -5). Window 1: all NaN.
        let pixels: [[Float]] = [[.nan, -5, .nan, .nan], [-7, .nan, .nan, .nan]]
        let input = Tensor(shape: [2 * 4 * c])
        for y in 0..<2 { for x in 0..<4 { for ch in 0..<c { input.data[(y * 4 + x) * c + ch] = pixels[y][x] } } }
        let output = Tensor(shape: [2 * c])
        maxPool2D(g, input: input.data, output: output.data, threads: 1)
        #expect(Array(output.array[0..<c]) == [Float](repeating: -5, count: c))
        #expect(Array(output.array[c...]) == [Float](repeating: -.greatestFiniteMagnitude, count: c))
    }
}
