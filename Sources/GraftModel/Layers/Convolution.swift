import Glibc
import GraftFoundation
import GraftKernels

/// Conv2D. In inference, one op with the BatchNormalization after it folded
/// into its kernel and bias, and the residual Add and the ReLU after that in
/// its GEMM's epilogue. In training: forward (im2col on Graft's GEMM or
/// OpenBLAS, 3x3 by Winograd with its kernel transformed afresh at every
/// step), backward (kernel, bias and input gradients, with the scale a
/// BatchNormalization after it handed back), and the scratch they share.
extension PlanCompiler {
    mutating func compileConvolution(_ i: Int) {
        let layers = network.layers, layer = layers[i]
        guard case let .conv2D(filters, _, _, _) = layer.kind else { preconditionFailure("\(layer.name) is not Conv2D") }
        let (source, extra) = windowSource(layer.inputs[0])
        let g = layer.windowGeometry(input: shape(source), batch: 1, extra: extra)
        let k = layer.weights[0].copy(), b = layer.weights[1].copy()
        var last = i
        if let bn = soleConsumer(last), case let .batchNormalization(eps) = layers[bn].kind {
            let w = layers[bn].weights
            BatchNormAffine(gamma: w[0].data, beta: w[1].data, movingMean: w[2].data,
                            movingVariance: w[3].data, channels: filters, epsilon: eps)
                .fold(kernel: k.data, kernelCount: k.count, bias: b.data)
            absorbed.insert(bn)
            last = bn
        }
        var residualLayer: Int?
        if let a = soleConsumer(last), layers[a].kind == .add, layers[a].inputs.count == 2 {
            let other = layers[a].inputs[0] == last ? layers[a].inputs[1] : layers[a].inputs[0]
            if other != last && valueOf[other] != nil {
                residualLayer = other
                absorbed.insert(a)
                last = a
            }
        }
        var relu = false
        if let r = soleConsumer(last), layers[r].kind == .relu {
            relu = true
            absorbed.insert(r)
            last = r
        }
        var full = g
        full.batch = capacity
        let inputRange = precision == .int8 ? calibration?.ranges[layers[source].name] : nil
        let product = InferencePlan.ConvProduct(kernel: k, geometry: full, precision: precision,
                                                inputRange: inputRange)
        let reads = [source] + (residualLayer.map { [$0] } ?? [])
        emit(last, from: i, reading: reads) { r, w in
            .conv(geometry: g, product: product, bias: b, input: r[0],
                  residual: r.count > 1 ? r[1] : nil, relu: relu, output: w)
        }
    }

    /// Whether BatchNormalization layer i hands its output gradient back
    /// unscaled, with its scale, to the convolution before it in training
    /// (`handsBackScale`): with no ReLU after it (whose mask would have to be
    /// written), its convolution read by nothing else, needing a gradient,
    /// and running as im2col, whose backward pass scales at no cost (not
    /// Winograd): in ResNet, the two before each block's Add.
    func handsBackItsScale(_ i: Int) -> Bool {
        let layer = network.layers[i]
        guard layer.isBatchNormalization && !fusedReLU.contains(i) else { return false }
        let j = layer.inputs[0], source = network.layers[j]
        guard case .conv2D = source.kind, consumers[j] == [i], j >= start else { return false }
        return !Winograd3x3.applies(to: source.windowGeometry(input: shape(source.inputs[0]), batch: 1))
    }

    /// Floats of the scratch that a training step's convolutions share: the
    /// most any of them needs, forward or backward, at the plan's batch
    /// (those of a prefix the step resumes after never run in it).
    func trainingWorkspaceFloats(threads: Int, winogradTile: WinogradTile?) -> Int {
        var floats = 1
        for (i, layer) in network.layers.enumerated() where isComputedInTraining(i) {
            guard case .conv2D = layer.kind else { continue }
            let g = layer.windowGeometry(input: shape(layer.inputs[0]), batch: capacity)
            floats = max(floats, Conv2D.workspaceSize(g, threads: threads),
                         Conv2D.backwardWorkspaceSize(g, threads: threads))
            if Winograd3x3.applies(to: g) {
                let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
                floats = max(floats, Winograd3x3.workspaceSize(g, threads: threads),
                             Winograd3x3.workspaceSize(g, threads: threads,
                                                       tileBudget: Winograd3x3.kernelGradientBudget(g, tile: tile)))
            }
        }
        return floats
    }
}

extension TrainingStep {
    /// The convolutions' shared scratch, taken from the pool at the step's
    /// first use of it and given back at the end of its backward pass.
    func scratch() -> Tensor {
        if let workspace { return workspace }
        let tensor = pool.take([plan.workspaceFloats])
        workspace = tensor
        return tensor
    }

    /// A convolution's output, with its bias. A 3x3 one runs as Winograd
    /// (2.25–4x fewer multiplications), its kernel transformed afresh at
    /// every step.
    func convolutionForward(_ layer: Layer, geometry g: ConvGeometry, input x: Tensor, output out: Tensor) {
        let kernel = layer.weights[0].data, epilogue = Epilogue(bias: layer.weights[1].data)
        guard Winograd3x3.applies(to: g) else {
            withPacked(kernel, rows: g.patchSize, columns: g.outChannels) { packed in
                Conv2D.forward(g, input: x.data, kernel: kernel, packed: packed, output: out.data, epilogue: epilogue,
                               workspace: scratch().data, threads: threads)
            }
            return
        }
        let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
        withWinogradTransform(kernel, inChannels: g.inChannels, outChannels: g.outChannels, tile: tile) { u, packed in
            Winograd3x3.forward(g, tile: tile, input: x.data, transformedKernel: u, packed: packed,
                                output: out.data, epilogue: epilogue, workspace: scratch().data,
                                threads: threads)
        }
    }

    /// Runs `body` with the Winograd transform of an HWIO 3x3 kernel in a
    /// buffer of the pool: straight into the panels of Graft's own GEMM
    /// (`packed`) where that applies, else U's plain matrices (`u`).
    func withWinogradTransform(_ kernel: UnsafePointer<Float>, inChannels c: Int, outChannels k: Int,
                                       tile: WinogradTile,
                                       _ body: (_ u: UnsafePointer<Float>, _ packed: [PackedKernel]?) -> Void) {
        let u = pool.take([tile.matrices, c, k])
        let packed = Winograd3x3.transformKernelPacked(kernel, inChannels: c, outChannels: k, tile: tile, into: u,
                                                       threads: threads)
        if packed == nil {
            Winograd3x3.transformKernel(kernel, inChannels: c, outChannels: k, tile: tile, into: u.data,
                                        threads: threads)
        }
        body(u.data, packed)
        pool.give(u)
    }

    /// Runs `body` with `matrix` packed for Graft's own GEMM in a buffer of
    /// the pool (see `PackedKernel.pack`), or with nil where it does not apply.
    func withPacked(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, transposed: Bool = false,
                            rowScale: UnsafePointer<Float>? = nil, _ body: (PackedKernel?) -> Void) {
        guard PackedKernel.applies(rows: rows, columns: columns) else { return body(nil) }
        let storage = pool.take([rows * columns])
        body(PackedKernel.pack(matrix, rows: rows, columns: columns, transposed: transposed, into: storage, at: 0,
                                threads: threads, rowScale: rowScale))
        pool.give(storage)
    }

    /// A convolution's gradients: its kernel's and bias's (`weightGradients`,
    /// if it trains) and its input's (`dInput`, if wanted). A 3x3 one runs
    /// as Winograd, as its forward pass does. With `biasGradient` (known
    /// already), the bias gradient is that rather than dY summed here. The
    /// kernel's gradient overwrites `weightGradients[0]`, or is added to it
    /// with `accumulateKernel`.
    func convolutionBackward(_ layer: Layer, geometry g: ConvGeometry, input x: Tensor, dOutput dY: Tensor,
                             dInput dX: Tensor?, weightGradients: [Tensor], biasGradient: [Float]?,
                             outputScale: [Float]?, accumulateKernel: Bool) {
        let kernel = layer.weights[0].data
        var dBias = weightGradients.count > 1 ? weightGradients[1].data : nil
        if let biasGradient, let target = dBias {
            for c in biasGradient.indices { target[c] += biasGradient[c] }
            dBias = nil
        }
        let dKernel = weightGradients.first?.data
        guard Winograd3x3.applies(to: g) else {
            func direct(_ scale: UnsafePointer<Float>?) {
                let run = { (packedTranspose: PackedKernel?) in
                    Conv2D.backward(g, input: x.data, kernel: kernel, packedTranspose: packedTranspose,
                                    dOutput: dY.data, dInput: dX?.data, dKernel: dKernel, dBias: dBias,
                                    outputScale: scale, accumulateKernel: accumulateKernel,
                                    workspace: self.scratch().data,
                                    threads: self.threads)
                }
                // The input gradient, if wanted, multiplies by the kernel's
                // transpose (its rows, the output channels, scaled alike).
                if dX == nil { run(nil) } else {
                    withPacked(kernel, rows: g.outChannels, columns: g.patchSize, transposed: true, rowScale: scale,
                               run)
                }
            }
            if let outputScale { outputScale.withUnsafeBufferPointer { direct($0.baseAddress) } } else { direct(nil) }
            return
        }
        precondition(outputScale == nil, "Winograd convolutions take their output gradient scaled (see handsBackScale)")
        let tile = winogradTile ?? Winograd3x3.tile(for: g, training: true)
        if let dKernel {
            let dU = pool.take([tile.matrices, g.inChannels, g.outChannels])
            Winograd3x3.kernelGradient(g, tile: tile, input: x.data, dOutput: dY.data, dKernel: dKernel, dU: dU.data,
                                       workspace: scratch().data, threads: threads,
                                       tileBudget: Winograd3x3.kernelGradientBudget(g, tile: tile),
                                       accumulate: accumulateKernel)
            pool.give(dU)
        }
        if let dBias {
            Conv2D.biasGradient(dOutput: dY.data, pixels: dY.count / g.outChannels, channels: g.outChannels,
                                dBias: dBias, threads: threads)
        }
        if let dX {
            // A convolution of dY with the turned kernel (K inputs, C outputs).
            let turned = pool.take([9 * g.inChannels * g.outChannels])
            Winograd3x3.turnKernel(kernel, inChannels: g.inChannels, outChannels: g.outChannels, into: turned.data,
                                   threads: threads)
            withWinogradTransform(turned.data, inChannels: g.outChannels, outChannels: g.inChannels,
                                  tile: tile) { u, packed in
                Winograd3x3.inputGradient(g, tile: tile, dOutput: dY.data, transformedTurnedKernel: u, packed: packed,
                                          dInput: dX.data, workspace: scratch().data, threads: threads)
            }
            pool.give(turned)
        }
    }
}
