import Foundation
import GraftKernels
import GraftModel

/// The ResNet stage a layer belongs to, by Keras's layer names: the stem
/// (conv1_*, pool1_*), conv2_x ... conv5_x, or the head.
func stage(of layer: Layer) -> String {
    let name = layer.name
    if layer.kind == .input || name.hasPrefix("conv1_") || name.hasPrefix("pool1_") { return "conv1 + pool1" }
    if name.hasPrefix("conv"), let block = name.range(of: "_block") {
        return String(name[..<block.lowerBound]) + "_x"
    }
    return "head"
}

/// A layer's kind for the profile: its Keras class, convolutions by kernel size.
func kind(of layer: Layer) -> String {
    if case let .conv2D(_, kernel, _, _) = layer.kind { return "Conv2D \(kernel.h)x\(kernel.w)" }
    return layer.kind.className
}

/// Multiply-adds per image of each layer, as a direct convolution or Dense
/// does them.
func multiplyAdds(_ network: Network) -> [String: Double] {
    var macs: [String: Double] = [:]
    for layer in network.layers {
        let inChannels = Double(layer.inputs.first.map { network.layers[$0].outputShape.last! } ?? 0)
        switch layer.kind {
        case let .conv2D(filters, kernel, _, _):
            let out = layer.outputShape
            macs[layer.name] = Double(out[0] * out[1] * filters * kernel.h * kernel.w) * inChannels
        case let .dense(units):
            macs[layer.name] = Double(units) * inChannels
        default: break
        }
    }
    return macs
}

/// Multiply-adds per image of each layer in a training step: forward, then
/// the kernel gradient if the layer trains and the input gradient if a layer
/// before it trains.
func trainingMultiplyAdds(_ network: Network) -> [String: Double] {
    let start = network.layers.firstIndex { $0.trainable && !$0.weights.isEmpty } ?? network.layers.count
    var macs = multiplyAdds(network)
    for (i, layer) in network.layers.enumerated() {
        guard let m = macs[layer.name] else { continue }
        let kernelGradient = i >= start && layer.trainable, inputGradient = i > start && layer.inputs[0] >= start
        macs[layer.name] = m * Double(1 + (kernelGradient ? 1 : 0) + (inputGradient ? 1 : 0))
    }
    return macs
}

/// GFLOP per image of a network's forward pass and of a training step on
/// it, counted as a direct convolution does them: the work Keras does,
/// whatever Graft skips.
func gigaflops(_ network: Network) -> (forward: Double, training: Double) {
    let forward = multiplyAdds(network).values.reduce(0, +)
    let training = trainingMultiplyAdds(network).values.reduce(0, +)
    return (2 * forward / 1e9, 2 * training / 1e9)
}

/// Seconds per batch and multiply-adds per image of each ResNet stage and of
/// each kind of layer: the base's inference
/// (compiled: BatchNormalization folded, Winograd, fused epilogues) and a
/// whole-base training step (forward, backward, optimizer).
func profileBenchmark(_ args: Arguments) throws {
    let batch = args.int("batch", 32), reps = args.int("reps", 3)
    let (model, step) = try trainingStep(args, mode: "step_full")
    let input = Tensor(shape: [batch] + model.base.base.layers[0].outputShape)
    randomPreprocessedImages(input)
    let features = Tensor(shape: [batch] + model.base.featureShape)
    let inference = { try model.base.features(preprocessed: input.data, count: batch, output: features.data) }

    try inference()
    try step()
    let inferenceProfile = LayerProfile(), trainingProfile = LayerProfile()
    model.base.profile = inferenceProfile
    for _ in 0..<reps { try inference() }
    model.base.profile = nil
    model.profile = trainingProfile
    for _ in 0..<reps { try step() }
    model.profile = nil

    let macs = multiplyAdds(model.network), trainingMacs = trainingMultiplyAdds(model.network)
    /// The figures summed over the layers that `group` puts together, as JSON.
    func grouped(by group: (Layer) -> String) -> String {
        var names: [String] = []
        var totals: [String: [String: Double]] = [:]
        for layer in model.network.layers {
            let key = group(layer), name = layer.name
            if totals[key] == nil { names.append(key) }
            let figures = ["macs_per_image": macs[name] ?? 0,
                           "training_macs_per_image": trainingMacs[name] ?? 0,
                           "inference": inferenceProfile.seconds(name, .forward) / Double(reps),
                           "forward": trainingProfile.seconds(name, .forward) / Double(reps),
                           "backward": trainingProfile.seconds(name, .backward) / Double(reps),
                           "optimizer": trainingProfile.seconds(name, .optimizer) / Double(reps)]
            totals[key, default: [:]].merge(figures, uniquingKeysWith: +)
        }
        let rows = names.map { key -> (String, String) in
            (key, json(totals[key]!.sorted { $0.key < $1.key }.map { ($0.key, String(format: "%.5g", $0.value)) }))
        }
        return json(rows)
    }
    print(json([("engine", "\"graft\""), ("batch", "\(batch)"),
                ("stages", grouped(by: stage(of:))), ("kinds", grouped(by: kind(of:))), ("layers", grouped(by: { $0.name }))]))
}
