import GraftFoundation
import GraftKernels
import GraftModel
import Testing

@Test("layer list equals Keras's model.layers, name for name", arguments: ResNetArchitecture.allCases)
func layerListMatchesKeras(_ architecture: ResNetArchitecture) throws {
    let network = try Network.resnet(architecture, inputHeight: 64, inputWidth: 64, seed: 1)
    let expected = try Fixtures.layerNames(architecture.rawValue)
    #expect(network.layers.map(\.name) == expected)
    #expect(network.layers.count == ["resnet50": 175, "resnet101": 345, "resnet152": 515][architecture.rawValue])
}

@Test("ResNet50's last 10 layers are the last residual block")
func lastResidualBlock() throws {
    let network = try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 1)
    let last10 = network.layers.suffix(10).map(\.name)
    #expect(last10 == ["1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out"]
        .map { "conv5_block3_" + $0 })
}

@Test("parameter count and output shapes match Keras's ResNet50")
func shapesAndParameters() throws {
    // Keras: 23,587,712 parameters; (4, 4, 2048) at 100x100 (KERAS-REFERENCE.md).
    let network = try Network.resnet(.resnet50, inputHeight: 100, inputWidth: 100, seed: 1)
    #expect(network.parameterCount == 23_587_712)
    #expect(network.outputShape == [4, 4, 2048])
    #expect(network.layers[network.index(of: "conv1_conv")!].outputShape == [50, 50, 64])
    #expect(network.layers[network.index(of: "pool1_pool")!].outputShape == [25, 25, 64])
    #expect(network.layers[network.index(of: "conv3_block4_out")!].outputShape == [13, 13, 512])
    #expect(network.layers[network.index(of: "conv4_block6_out")!].outputShape == [7, 7, 1024])
    // Non-square and minimal sizes (the golden outputs of Keras have these shapes).
    #expect(try Network.resnet(.resnet50, inputHeight: 72, inputWidth: 120, seed: 1).outputShape == [3, 4, 2048])
    #expect(try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 1).outputShape == [1, 1, 2048])
}

@Test("inputs smaller than 32 on either side are refused")
func tooSmallInput() {
    for (h, w) in [(31, 100), (100, 31), (0, 0), (-5, 64)] {
        #expect(throws: GraftError.self) { try Network.resnet(.resnet50, inputHeight: h, inputWidth: w, seed: 1) }
    }
}

@Test("random initialisation follows Keras: glorot-uniform kernels, zero biases, identity BatchNorm, from the seed")
func randomInitialisation() throws {
    let a = try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 7)
    let b = try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 7)
    let c = try Network.resnet(.resnet50, inputHeight: 32, inputWidth: 32, seed: 8)
    let conv = a.layers[a.index(of: "conv2_block1_2_conv")!]
    let kernel = conv.weights[0].array
    // 3x3x64x64: limit = sqrt(6 / (576 + 576)).
    let limit = (6.0 / 1152.0).squareRoot()
    #expect(kernel.allSatisfy { abs(Double($0)) <= limit })
    #expect(Double(kernel.map { abs($0) }.max()!) > 0.99 * limit)
    let mean = kernel.reduce(0, +) / Float(kernel.count)
    #expect(abs(mean) < 0.01 * Float(limit))
    #expect(conv.weights[1].array.allSatisfy { $0 == 0 })
    let bn = a.layers[a.index(of: "conv1_bn")!].weights.map(\.array)
    #expect(bn[0].allSatisfy { $0 == 1 } && bn[1].allSatisfy { $0 == 0 })
    #expect(bn[2].allSatisfy { $0 == 0 } && bn[3].allSatisfy { $0 == 1 })
    let sameSeedSameWeights = b.layers[b.index(of: "conv2_block1_2_conv")!].weights[0].array == kernel
    let otherSeedOtherWeights = c.layers[c.index(of: "conv2_block1_2_conv")!].weights[0].array != kernel
    #expect(sameSeedSameWeights && otherSeedOtherWeights)
}

@Test("preprocessing modes: caffe, rescale, none")
func preprocessingModes() {
    let pixels: [Float] = [10, 20, 30, 255, 0, 128]
    var out = [Float](repeating: 0, count: 6)
    Preprocessing.caffe.apply(input: pixels, pixels: 2, output: &out)
    let (b, g, r): (Float, Float, Float) = (103.939, 116.779, 123.68)
    let bgrMinusMeans: [Float] = [30 - b, 20 - g, 10 - r, 128 - b, 0 - g, 255 - r]
    #expect(out == bgrMinusMeans)
    Preprocessing.rescale.apply(input: pixels, pixels: 2, output: &out)
    #expect(out == pixels.map { $0 * (1 / 255 as Float) })
    Preprocessing.none.apply(input: pixels, pixels: 2, output: &out)
    #expect(out == pixels)
}
