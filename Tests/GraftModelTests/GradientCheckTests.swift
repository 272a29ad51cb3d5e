import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// Every layer's backward pass against finite differences of the loss: for a
// sample of each weight, (L(w + ε) − L(w − ε)) / 2ε against the analytic
// gradient. The loss is accumulated in Double but the forward pass runs in
// float32, so the difference quotient carries about 1e-7/2ε ≈ 5e-5 of noise
// with ε = 1e-3, far below the bar of 2% of the gradient (with a floor of
// 1e-3 of the largest gradient of the tensor, for entries near 0). A larger ε
// makes ReLU and max-pooling switch inside the difference (measured: 1e-2
// fails that way). A wrong index, transpose or missing term is off by O(1).

/// A small network with every layer kind the engine trains through; with
/// `frozenNormalization`, its BatchNormalization layers frozen.
private func smallNetwork(pooling: String, frozenNormalization: Bool = false) -> Network {
    var b = NetworkBuilder(inputHeight: 9, inputWidth: 8, seed: 5)
    var x = b.input()
    x = b.zeroPadding(x, 1, name: "pad")
    x = b.conv(x, filters: 8, kernel: 3, stride: 2, padding: .valid, name: "conv_a")
    x = b.batchNorm(x, name: "bn_a")
    x = b.relu(x, name: "relu_a")
    x = b.maxPool(x, pool: 2, stride: 1, name: "pool")
    let shortcut = x
    var y = b.conv(x, filters: 8, kernel: 3, stride: 1, padding: .same, name: "conv_b")
    y = b.relu(y, name: "relu_b")
    y = b.conv(y, filters: 8, kernel: 1, stride: 1, padding: .valid, name: "conv_c")
    x = b.add(shortcut, y, name: "add")
    x = b.relu(x, name: "out")
    // A ReLU after an Add read by two layers: its gradient's two terms are
    // summed and masked in one pass. A BatchNormalization read only by an
    // Add, which applies it.
    var z = b.conv(x, filters: 8, kernel: 1, stride: 1, padding: .valid, name: "conv_d")
    z = b.batchNorm(z, name: "bn_d")
    x = b.add(x, z, name: "add_d")
    x = b.relu(x, name: "out_d")
    // Adds share their output's gradient among their inputs: one input read
    // by nothing else (the ReLU, which then masks into a buffer of its own),
    // both inputs the same layer.
    x = b.add(x, shortcut, name: "add_shortcut_again")
    x = pooling == "avg" ? b.globalAveragePooling(x, name: "gap") : b.flatten(x, name: "flatten")
    x = b.dense(x, units: 6, name: "hidden")
    x = b.relu(x, name: "hidden_relu")
    x = b.add(x, x, name: "double")
    x = b.dropout(x, rate: 0.3, name: "dropout")
    _ = b.dense(x, units: 3, name: "logits")
    let network = b.build()
    // Random biases and BatchNormalization statistics, so that every term
    // of the backward pass matters.
    var state: UInt64 = 99
    func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }
    for layer in network.layers {
        for (k, w) in layer.weights.enumerated() {
            for i in 0..<w.count {
                switch (layer.kind.className, k) {
                case ("BatchNormalization", 3): w.data[i] = 0.5 + next()       // variance
                case ("BatchNormalization", 0): w.data[i] = 0.5 + next()       // gamma
                case (_, 1), ("BatchNormalization", 2): w.data[i] = next() - 0.5
                default: break
                }
            }
        }
    }
    for layer in network.layers where frozenNormalization && layer.kind.className == "BatchNormalization" {
        layer.trainable = false
    }
    return network
}

@Test("backward matches finite differences for every trainable weight",
      arguments: [("avg", false), ("flatten", false), ("avg", true)])
func finiteDifferences(pooling: String, frozenNormalization: Bool) throws {
    // Frozen BatchNormalization layers still pass gradients (scaled) on to
    // the convolutions before them, without gradients of their own.
    let network = smallNetwork(pooling: pooling, frozenNormalization: frozenNormalization)
    let batch = 3
    var state: UInt64 = 7
    let input = (0..<(batch * 9 * 8 * 3)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 4 - 2
    }
    let labels: [Int32] = [0, 2, 1]
    func loss() throws -> Double {
        try network.lossAndGradients(preprocessed: input, labels: labels, batch: batch, threads: 2, dropoutSeed: 3).loss
    }
    let analytic = try network.lossAndGradients(preprocessed: input, labels: labels, batch: batch, threads: 2,
                                                dropoutSeed: 3).gradients
    // Every layer with weights is trained: conv kernels and biases, BN gamma
    // and beta (not the moving statistics, nor when frozen), dense kernels
    // and biases.
    #expect(analytic.count == 4 * 2 + (frozenNormalization ? 0 : 2 * 2) + 2 * 2)
    let epsilon: Float = 1e-3
    for (weight, gradient) in analytic {
        let scale = gradient.array.map(abs).max()!
        #expect(scale > 0)
        for i in stride(from: 0, to: weight.count, by: max(1, weight.count / 7)) {
            let original = weight.data[i]
            weight.data[i] = original + epsilon
            let up = try loss()
            weight.data[i] = original - epsilon
            let down = try loss()
            weight.data[i] = original
            let numeric = (up - down) / Double(2 * epsilon)
            let exact = Double(gradient.data[i])
            #expect(abs(numeric - exact) <= 0.02 * abs(exact) + 1e-3 * Double(scale),
                    "weight \(weight.shape)[\(i)]: finite difference \(numeric), backward \(exact)")
        }
    }
}

@Test("a step gives back every buffer it takes: the next one allocates none")
func stepReturnsItsBuffers() throws {
    let network = smallNetwork(pooling: "avg")
    let input = [Float](repeating: 0.5, count: 2 * 9 * 8 * 3)
    let pool = TensorPool()
    for step in 0..<2 {
        let before = pool.created
        let result = try network.lossAndGradients(preprocessed: input, labels: [0, 1], batch: 2, threads: 2, pool: pool)
        if step > 0 { #expect(pool.created == before) }
        for (_, gradient) in result.gradients { pool.give(gradient) }
    }
}

@Test("layers before the earliest trainable one get no gradient work")
func frozenPrefix() throws {
    let network = smallNetwork(pooling: "avg")
    for layer in network.layers where layer.name != "logits" { layer.trainable = false }
    let input = [Float](repeating: 0.5, count: 2 * 9 * 8 * 3)
    let result = try network.lossAndGradients(preprocessed: input, labels: [0, 1], batch: 2, threads: 1)
    let logits = network.layers.last!
    #expect(result.gradients.count == 2)
    #expect(result.gradients.allSatisfy { pair in logits.weights.contains { $0 === pair.weight } })
    for layer in network.layers { layer.trainable = false }
    #expect(throws: GraftError.self) {
        try network.lossAndGradients(preprocessed: input, labels: [0, 1], batch: 2, threads: 1)
    }
}

/// The largest difference between two lists of gradients (the same weights
/// in the same order), relative to each tensor's largest magnitude.
private func largestRelativeDifference(_ a: [(weight: Tensor, gradient: Tensor)],
                                       _ b: [(weight: Tensor, gradient: Tensor)]) -> Float {
    zip(a, b).map { x, y in
        precondition(x.weight === y.weight)
        let scale = max(y.gradient.array.map(abs).max()!, .leastNormalMagnitude)
        return zip(x.gradient.array, y.gradient.array).map { abs($0 - $1) }.max()! / scale
    }.max()!
}

// The fused step reorders float32 sums (a BatchNormalization's scale applied
// inside the convolution's product, a bias gradient as scale times beta's):
// each reordering moves a result by a few units in the last place (measured:
// 2e-7 of its tensor's largest value). The bar, 1e-5, is fifty times that; a
// gradient routed wrongly is off by O(1).
@Test("the fused step's loss and gradients equal the unfused reference's",
      arguments: [("avg", false), ("flatten", false), ("avg", true)])
func fusedMatchesUnfused(pooling: String, frozenNormalization: Bool) throws {
    let network = smallNetwork(pooling: pooling, frozenNormalization: frozenNormalization)
    var state: UInt64 = 11
    let input = (0..<(3 * 9 * 8 * 3)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 4 - 2
    }
    let labels: [Int32] = [2, 0, 1]
    let fused = try network.lossAndGradients(preprocessed: input, labels: labels, batch: 3, threads: 2, dropoutSeed: 3)
    let unfused = try network.lossAndGradients(preprocessed: input, labels: labels, batch: 3, threads: 2,
                                               dropoutSeed: 3, fused: false)
    #expect(abs(fused.loss - unfused.loss) <= 1e-6 * abs(unfused.loss))
    #expect(fused.gradients.count == unfused.gradients.count)
    let difference = largestRelativeDifference(fused.gradients, unfused.gradients)
    #expect(difference <= 1e-5, "gradients differ by \(difference) of their largest")
}
