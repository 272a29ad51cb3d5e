import Glibc
import GraftFoundation
import GraftKernels

/// A network compiled for inference on batches of up to `capacity` images.
///
/// Compiling does the work that does not depend on the images, once:
/// - BatchNormalization in inference mode is an affine map, folded into the
///   convolution before it (kernel and bias rescaled);
/// - the ReLU after it, or the residual `Add` and the ReLU after that, run in
///   the convolution's epilogue while its output rows are still in cache;
/// - ZeroPadding2D before a convolution or max pooling becomes the padding of
///   that layer's window instead of a copy;
/// - every intermediate activation gets a buffer from a small pool, reused as
///   soon as its last reader has run, allocated once for the plan's lifetime.
///
/// A plan is not safe to run from two threads at once (its buffers are
/// shared); the model that owns it serialises its calls.
final class InferencePlan {
    let capacity: Int
    let threads: Int
    /// Floats per image of the network's input and output.
    let inputSize: Int
    let outputSize: Int

    private var ops: [Op] = []
    /// The layer each op is timed under (`LayerProfile`): its first.
    private var opLayers: [String] = []
    /// What each op writes: the layer whose output it is, its buffer and
    /// its floats per image (what calibration observes).
    private var opOutputs: [(layer: String, buffer: Buffer, floats: Int)] = []
    private var slots: [UnsafeMutablePointer<Float>] = []
    private var workspace: UnsafeMutablePointer<Float>?
    private var outputBuffer: Buffer = .input

    /// Where a value lives: the caller's input, or one of the plan's slots.
    enum Buffer: Equatable { case input, slot(Int) }

    enum Op {
        case conv(geometry: ConvGeometry, product: ConvProduct, bias: Tensor, input: Buffer,
                  residual: Buffer?, relu: Bool, output: Buffer)
        case zeroPad(height: Int, width: Int, channels: Int, pads: Pads, input: Buffer, output: Buffer)
        case maxPool(geometry: ConvGeometry, input: Buffer, output: Buffer)
        case batchNorm(BatchNormAffine, pixels: Int, input: Buffer, output: Buffer)
        case relu(count: Int, input: Buffer, output: Buffer)
        case add(count: Int, a: Buffer, b: Buffer, output: Buffer)
        case globalAveragePool(height: Int, width: Int, channels: Int, input: Buffer, output: Buffer)
        case dense(kernel: Tensor, bias: Tensor, inputs: Int, units: Int, input: Buffer, output: Buffer)
    }

    /// How a convolution multiplies, with the one copy of its kernel that
    /// way needs (BatchNormalization folded in).
    enum ConvProduct {
        /// im2col (or the input as it lies) times the HWIO kernel, by OpenBLAS.
        case direct(kernel: Tensor)
        /// The same on Graft's own GEMM.
        case packed(PackedKernel)
        /// Winograd with `tile`: the transformed kernel U, by OpenBLAS, or
        /// U's matrices packed for Graft's own GEMM.
        case winograd(Tensor, WinogradTile)
        case packedWinograd([PackedKernel], WinogradTile)

        /// Packed in `precision` where Graft's GEMM takes the shape in it,
        /// else packed in float32, else for OpenBLAS. The Winograd tiling is
        /// chosen for `g` at the plan's full batch, and kept for smaller ones;
        /// in bfloat16 it is F(2x2), as F(4x4)'s transforms amplify
        /// bfloat16's rounding about 13x (KernelTests). int8 takes the
        /// convolutions whose input range calibration gives (`inputRange`),
        /// by im2col: Winograd's transformed inputs are not a ReLU's.
        init(kernel: Tensor, geometry g: ConvGeometry, precision: Precision, inputRange: Float? = nil) {
            let (c, k) = (g.inChannels, g.outChannels)
            if precision == .int8,
               let quantized = PackedKernel.pack(kernel.data, rows: g.patchSize, columns: k, precision: .int8,
                                                 inputRange: inputRange) {
                self = .packed(quantized)
                return
            }
            let precision = precision == .int8 ? .float32 : precision
            if Winograd3x3.applies(to: g) {
                let tile = precision == .bfloat16 ? .f2x2 : Winograd3x3.tile(for: g, training: false)
                let u = Winograd3x3.transformKernel(kernel.data, inChannels: c, outChannels: k, tile: tile)
                let packed = Winograd3x3.packTransformedKernel(u.data, inChannels: c, outChannels: k, tile: tile,
                                                               precision: precision)
                    ?? Winograd3x3.packTransformedKernel(u.data, inChannels: c, outChannels: k, tile: tile)
                self = packed.map { .packedWinograd($0, tile) } ?? .winograd(u, tile)
            } else {
                let packed = PackedKernel.pack(kernel.data, rows: g.patchSize, columns: k, precision: precision)
                    ?? PackedKernel.pack(kernel.data, rows: g.patchSize, columns: k)
                self = packed.map { .packed($0) } ?? .direct(kernel: kernel)
            }
        }

        var isWinograd: Bool {
            switch self {
            case .winograd, .packedWinograd: true
            case .direct, .packed: false
            }
        }
    }

    /// `precision`: the number format of the convolutions' products (see
    /// `Precision`); float32 wherever it does not apply. int8 quantizes by
    /// `calibration`'s ranges.
    init(network: Network, capacity: Int, threads: Int, precision: Precision = .float32,
         calibration: Calibration? = nil) throws {
        self.capacity = capacity
        self.threads = threads
        let input = network.layers[0].outputShape
        inputSize = input.reduce(1, *)
        outputSize = network.outputShape.reduce(1, *)
        var compiler = PlanCompiler(network: network, capacity: capacity, precision: precision,
                                    calibration: calibration)
        let compiled = try compiler.compileInference()
        try allocate(compiled, network: network)
    }

    deinit {
        slots.forEach { free($0) }
        workspace.map { free($0) }
    }

    /// Runs the network on `batch` (≤ capacity) images at `input` and writes
    /// the last layer's output to `output`, timing each op into `profile`.
    /// `observe` is shown each op's output (the layer's name, its values).
    func run(input: UnsafePointer<Float>, batch: Int, output: UnsafeMutablePointer<Float>,
             profile: LayerProfile? = nil, observe: ((String, UnsafeBufferPointer<Float>) -> Void)? = nil) {
        precondition(batch >= 1 && batch <= capacity)
        func ptr(_ b: Buffer) -> UnsafeMutablePointer<Float> {
            switch b {
            case .input: UnsafeMutablePointer(mutating: input)
            case .slot(let i): slots[i]
            }
        }
        func execute(_ op: Op) {
            switch op {
            case let .conv(g, product, bias, inBuf, residual, relu, outBuf):
                var g = g
                g.batch = batch
                let epilogue = Epilogue(bias: UnsafePointer(bias.data),
                                        residual: residual.map { UnsafePointer(ptr($0)) }, relu: relu)
                switch product {
                case .direct(let kernel):
                    Conv2D.forward(g, input: ptr(inBuf), kernel: kernel.data, output: ptr(outBuf),
                                   epilogue: epilogue, workspace: workspace, threads: threads)
                case .packed(let packed):
                    Conv2D.forward(g, input: ptr(inBuf), kernel: nil, packed: packed, output: ptr(outBuf),
                                   epilogue: epilogue, workspace: workspace, threads: threads)
                case let .winograd(u, tile):
                    Winograd3x3.forward(g, tile: tile, input: ptr(inBuf), transformedKernel: u.data,
                                        output: ptr(outBuf), epilogue: epilogue, workspace: workspace!, threads: threads)
                case let .packedWinograd(packed, tile):
                    Winograd3x3.forward(g, tile: tile, input: ptr(inBuf), transformedKernel: nil, packed: packed,
                                        output: ptr(outBuf), epilogue: epilogue, workspace: workspace!,
                                        threads: threads)
                }
            case let .zeroPad(h, w, c, p, inBuf, outBuf):
                zeroPad2D(input: ptr(inBuf), batch: batch, height: h, width: w, channels: c,
                          top: p.top, bottom: p.bottom, left: p.left, right: p.right, output: ptr(outBuf),
                          threads: threads)
            case let .maxPool(g, inBuf, outBuf):
                var g = g
                g.batch = batch
                maxPool2D(g, input: ptr(inBuf), output: ptr(outBuf), threads: threads)
            case let .batchNorm(affine, pixels, inBuf, outBuf):
                affine.apply(input: ptr(inBuf), pixels: pixels * batch, output: ptr(outBuf))
            case let .relu(count, inBuf, outBuf):
                GraftKernels.relu(input: ptr(inBuf), count: count * batch, output: ptr(outBuf))
            case let .add(count, a, b, outBuf):
                GraftKernels.add(ptr(a), ptr(b), count: count * batch, output: ptr(outBuf))
            case let .globalAveragePool(h, w, c, inBuf, outBuf):
                globalAveragePool(input: ptr(inBuf), batch: batch, height: h, width: w, channels: c,
                                  output: ptr(outBuf))
            case let .dense(kernel, bias, inputs, units, inBuf, outBuf):
                dense(input: ptr(inBuf), batch: batch, inputs: inputs, kernel: kernel.data,
                      bias: bias.data, units: units, output: ptr(outBuf))
            }
        }
        for (index, op) in ops.enumerated() {
            profile.measure(opLayers[index], .forward) { execute(op) }
            if let observe {
                let written = opOutputs[index]
                observe(written.layer, UnsafeBufferPointer(start: ptr(written.buffer), count: written.floats * batch))
            }
        }
        output.update(from: ptr(outputBuffer), count: batch * outputSize)
    }

    /// Runs `count` inputs (any number) in batches of up to `capacity`.
    func run(inputs: UnsafePointer<Float>, count: Int, outputs: UnsafeMutablePointer<Float>,
             profile: LayerProfile? = nil) {
        for start in stride(from: 0, to: count, by: capacity) {
            run(input: inputs + start * inputSize, batch: min(capacity, count - start),
                output: outputs + start * outputSize, profile: profile)
        }
    }

    /// Gives every value a slot, reusing the slot of a value whose last
    /// reader has run, then allocates the slots and the shared workspace.
    private func allocate(_ compiled: PlanCompiler.Result, network: Network) throws {
        var slotSizes: [Int] = []
        var free: [Int] = []
        var bufferOf: [Int: Buffer] = [compiled.inputValue: .input]
        var lastUse = lastReaders(of: compiled.ops.map(\.reads))
        lastUse[compiled.outputValue] = compiled.ops.count

        var workspaceSize = 0
        for (i, op) in compiled.ops.enumerated() {
            let need = compiled.valueSizes[op.writes]! * capacity
            // Best fit among the free slots, else a new one.
            let fit = free.filter { slotSizes[$0] >= need }.min { slotSizes[$0] < slotSizes[$1] }
            let slot: Int
            if let fit {
                slot = fit
                free.removeAll { $0 == fit }
            } else {
                slot = slotSizes.count
                slotSizes.append(need)
            }
            bufferOf[op.writes] = .slot(slot)
            for v in Set(op.reads) where lastUse[v] == i {
                if case .slot(let s)? = bufferOf[v] { free.append(s) }
            }
            if case let .conv(g, product, _, _, _, _, _) = op.template {
                workspaceSize = max(workspaceSize, !product.isWinograd
                    ? Conv2D.workspaceSize(g, threads: threads)
                    : Winograd3x3.workspaceSize(g, threads: threads))
            }
        }
        func buffer(_ v: Int) -> Buffer { bufferOf[v]! }
        ops = compiled.ops.map { $0.resolve(buffer) }
        opLayers = compiled.ops.map { network.layers[$0.firstLayer].name }
        opOutputs = compiled.ops.map {
            (network.layers[$0.outputLayer].name, buffer($0.writes), compiled.valueSizes[$0.writes]!)
        }
        outputBuffer = buffer(compiled.outputValue)
        for size in slotSizes { slots.append(try tryAllocateFloats(size)) }
        if workspaceSize > 0 { workspace = try tryAllocateFloats(workspaceSize) }
    }
}
