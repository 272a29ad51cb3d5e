import GraftData
import GraftFoundation

/// What Graft builds from a Keras model's configuration: the transfer
/// model's base, preprocessing, augmentation and head, read from the
/// layers Keras lists, and each layer's trainable flag. A model Graft
/// cannot build is refused with an error naming the first layer it does
/// not take.
///
/// It takes a ResNet50/101/152 base, nested (the guide's
/// `base(x, training=False)`) or flat (`ResNet50(input_tensor=...)`); before
/// it the input, Keras's augmentation layers (alone or in a Sequential
/// model, as the guide's `data_augmentation`) and preprocess_input (caffe),
/// Rescaling(1/255) or nothing; after it (include_top's own avg_pool and
/// predictions included) GlobalAveragePooling2D or Flatten, hidden Dense
/// layers with ReLU (fused or as Activation), Dropout, and the output Dense,
/// of logits or with softmax or sigmoid.
struct KerasModelDescription {
    var architecture: ResNetArchitecture
    var inputHeight: Int, inputWidth: Int
    var preprocessing: Preprocessing
    var augmentation: [AugmentationLayer]
    var head: HeadOptions
    /// The base nested as one layer: its name (a legacy file's group), or
    /// nil when its layers sit in the model beside the head's.
    var nestedBaseName: String?
    /// The head's layers as Graft builds them (a fused ReLU is its own
    /// layer), with Keras's name for each (a fused ReLU: its Dense's),
    /// whether it trains, and whether Keras keeps it inside the nested base
    /// (include_top's avg_pool and predictions).
    var headLayers: [HeadLayer]

    struct HeadLayer {
        let kind: LayerKind
        let kerasName: String
        let trainable: Bool
        let inNestedBase: Bool
    }
    /// The base's layers as Keras lists them, their kinds, inputs and flags.
    var baseLayers: [(name: String, kind: LayerKind, inputs: [String], trainable: Bool)]

    init(model json: JSON) throws {
        let graph = try KerasGraph(model: json)
        let nestedBases = graph.nodes.filter { ["Functional", "Model"].contains($0.className) }
        let base: KerasGraph, baseEntry: String, baseExit: String
        if let nested = nestedBases.first {
            guard nestedBases.count == 1 else { throw GraftError.format("model \(graph.name) nests \(nestedBases.count) models; Graft builds one base") }
            base = try KerasGraph(model: .object([JSON.Member("class_name", .string(nested.className)), JSON.Member("config", nested.config)]))
            nestedBaseName = nested.name
            (baseEntry, baseExit) = (nested.name, nested.name)
        } else if graph.nodes.contains(where: { $0.name == "conv1_pad" }) {
            base = graph
            nestedBaseName = nil
            (baseEntry, baseExit) = ("conv1_pad", "conv5_block3_out")
        } else {
            let first = graph.nodes.first { $0.className != "InputLayer" && !Self.isAugmentationOrPreprocessing($0) }
            throw GraftError.format("model \(graph.name) has no ResNet base Graft can build (layer \(first?.name ?? "?") of class \(first?.className ?? "?"))")
        }

        // The base: every layer from conv1_pad to conv5_block3_out, each of a class Graft has.
        var baseLayers: [(name: String, kind: LayerKind, inputs: [String], trainable: Bool)] = []
        var inBase = nestedBaseName != nil
        for node in base.nodes where node.className != "InputLayer" {
            if node.name == "conv1_pad" { inBase = true }
            guard inBase else { continue }
            var fused: String?
            guard let kind = try LayerKind(kerasClassName: node.className, config: node.config, fusedActivation: &fused), fused == nil else {
                throw GraftError.format("layer \(node.name) of class \(node.className) is not one Graft builds in a ResNet base")
            }
            let trainable = base.trainable && (node.config["trainable"]?.boolValue ?? true)
            baseLayers.append((node.name, kind, node.inputs, trainable && graph.trainable))
            if node.name == "conv5_block3_out" { break }
        }
        self.baseLayers = baseLayers
        let convolutions = baseLayers.filter { if case .conv2D = $0.kind { true } else { false } }.count
        guard let architecture = ResNetArchitecture.allCases.first(where: { $0.convolutionCount == convolutions }) else {
            throw GraftError.format("the base of model \(graph.name) has \(convolutions) Conv2D layers: not a ResNet50, 101 or 152 without its top")
        }
        self.architecture = architecture

        // Before the base: the input, augmentation, preprocessing.
        var augmentation: [AugmentationLayer] = [], preprocessing: Preprocessing?
        var current = try graph.node(baseEntry).inputs.first.map(graph.node)
        var inputShape: JSON?, steps = 0
        while let node = current {
            steps += 1
            try graph.checkWalk(steps)
            if node.className == "InputLayer" {
                inputShape = node.config["batch_shape"] ?? node.config["batch_input_shape"]
                break
            }
            if let layer = try AugmentationLayer.fromKeras(className: node.className, config: node.config) {
                augmentation.insert(layer, at: 0)
            } else if node.className == "Sequential", let layers = try Self.augmentationLayers(of: node) {
                // The guide's `data_augmentation = keras.Sequential([RandomFlip(...), ...])`.
                augmentation.insert(contentsOf: layers, at: 0)
            } else if preprocessing == nil, augmentation.isEmpty, let found = try Self.preprocessing(ending: node, in: graph) {
                preprocessing = found.preprocessing
                current = try graph.node(found.source)
                continue
            } else {
                throw GraftError.format("layer \(node.name) of class \(node.className) before the base is not one Graft builds "
                                            + "(it takes the input, augmentation layers, then preprocess_input or Rescaling(1/255))")
            }
            guard node.inputs.count == 1 else { throw GraftError.format("layer \(node.name) reads \(node.inputs.count) tensors") }
            current = try graph.node(node.inputs[0])
        }
        guard let dims = inputShape?.arrayValue, dims.count == 4, let height = dims[1].integerValue,
              let width = dims[2].integerValue, dims[3].integerValue == 3 else {
            throw GraftError.format("model \(graph.name): its input is not a batch of RGB images of fixed size (\(inputShape?.text ?? "none"))")
        }
        (inputHeight, inputWidth) = (height, width)
        self.augmentation = augmentation
        self.preprocessing = preprocessing ?? .none

        // After the base: the head, walked back from the output: in a nested
        // base, its own layers after conv5_block3_out (include_top's avg_pool
        // and predictions, pooling="avg"'s avg_pool) come first.
        var chain = try Self.chain(in: graph, from: graph.outputName, to: baseExit).map { (node: $0, inNestedBase: false, trainable: true) }
        if nestedBaseName != nil {
            let inner = try Self.chain(in: base, from: base.outputName, to: "conv5_block3_out")
            chain = inner.map { (node: $0, inNestedBase: true, trainable: base.trainable) } + chain
        }
        var head = HeadOptions(numClasses: 0), headLayers: [HeadLayer] = []
        if let last = chain.last?.node, last.className == "Activation",
           let activation = HeadOptions.OutputActivation(rawValue: last.config["activation"]?.stringValue ?? ""), activation != .linear {
            head.outputActivation = activation
            chain.removeLast()
        }
        for (index, (node, inNestedBase, baseTrainable)) in chain.enumerated() {
            var fused: String?
            guard let kind = try LayerKind(kerasClassName: node.className, config: node.config, fusedActivation: &fused) else {
                throw GraftError.format("layer \(node.name) of class \(node.className) is not one Graft builds in a head")
            }
            let trainable = graph.trainable && baseTrainable && (node.config["trainable"]?.boolValue ?? true)
            headLayers.append(HeadLayer(kind: kind, kerasName: node.name, trainable: trainable, inNestedBase: inNestedBase))
            switch fused {
            case nil: break
            case "relu": headLayers.append(HeadLayer(kind: .relu, kerasName: node.name, trainable: trainable, inNestedBase: inNestedBase))
            case let activation?:
                guard index == chain.count - 1, head.outputActivation == .linear,
                      let output = HeadOptions.OutputActivation(rawValue: activation) else {
                    throw GraftError.format("layer \(node.name) (Dense): Graft builds activation \(activation) on the output Dense only")
                }
                head.outputActivation = output
            }
        }
        // The options of Graft's head; `TransferModel(keras:)` checks it builds these very layers.
        if case .flatten = headLayers.first?.kind { head.pooling = .flatten }
        for (i, layer) in headLayers.enumerated() {
            switch layer.kind {
            case .dense(let units):
                if i + 1 < headLayers.count, case .relu = headLayers[i + 1].kind { head.hiddenUnits.append(units) } else { head.numClasses = units }
            case .dropout(let rate) where head.dropout == 0:
                head.dropout = rate
            default:
                break
            }
        }
        do {
            try head.validate()
        } catch let error as GraftError {
            throw GraftError.format("the head of model \(graph.name): \(error.message)")
        }
        self.head = head
        self.headLayers = headLayers
    }

    /// The layers from the one after `start` to `end`, walked back from
    /// `end` along single inputs, in forward order.
    private static func chain(in graph: KerasGraph, from end: String, to start: String) throws -> [KerasGraph.Node] {
        var chain: [KerasGraph.Node] = []
        var at = try graph.node(end)
        while at.name != start {
            try graph.checkWalk(chain.count + 1)
            chain.insert(at, at: 0)
            guard at.inputs.count == 1 else {
                throw GraftError.format("layer \(at.name) of class \(at.className) after the base is not one Graft builds")
            }
            at = try graph.node(at.inputs[0])
        }
        return chain
    }

    /// The layers of a nested Sequential model when each is an augmentation
    /// layer (its InputLayer aside); nil otherwise.
    private static func augmentationLayers(of node: KerasGraph.Node) throws -> [AugmentationLayer]? {
        var layers: [AugmentationLayer] = []
        for layer in node.config["layers"]?.arrayValue ?? [] where layer["class_name"]?.stringValue != "InputLayer" {
            guard let className = layer["class_name"]?.stringValue, let config = layer["config"],
                  let augmentation = try AugmentationLayer.fromKeras(className: className, config: config) else { return nil }
            layers.append(augmentation)
        }
        return layers.isEmpty ? nil : layers
    }

    private static func isAugmentationOrPreprocessing(_ node: KerasGraph.Node) -> Bool {
        node.className.hasPrefix("Random") || ["Rescaling", "GetItem", "Stack", "Add"].contains(node.className)
    }

    /// Keras's preprocess_input (caffe), as Keras 3 traces it: the three
    /// channels taken in reverse (GetItem [..., 2], [..., 1], [..., 0]),
    /// stacked, plus the negated ImageNet means; or Rescaling(1/255). The
    /// preprocessing that `node` ends, and the layer it reads; nil when it
    /// ends none.
    private static func preprocessing(ending node: KerasGraph.Node, in graph: KerasGraph) throws
        -> (preprocessing: Preprocessing, source: String)? {
        if node.className == "Rescaling" {
            let scale = node.config["scale"]?.doubleValue, offset = node.config["offset"]?.doubleValue ?? 0
            guard let scale, abs(scale / Preprocessing.rescaleScale - 1) < 1e-6, offset == 0, node.inputs.count == 1 else {
                throw GraftError.format("layer \(node.name) (Rescaling): Graft builds Rescaling(1/255) only, not scale=\(scale ?? .nan), offset=\(offset)")
            }
            return (.rescale, node.inputs[0])
        }
        let (b, g, r) = Preprocessing.caffeMeansBGR
        guard node.className == "Add", node.inputs.count == 1, node.constants.count == 1,
              zip(node.constants[0], [-b, -g, -r]).allSatisfy({ abs($0 - Double($1)) < 1e-4 }), node.constants[0].count == 3,
              let stack = try? graph.node(node.inputs[0]), stack.className == "Stack", stack.inputs.count == 3,
              [-1, 3].contains(stack.config["axis"]?.integerValue ?? 0) else { return nil }
        let slices = try stack.inputs.map(graph.node)
        /// The last axis's channel a GetItem takes whole images of: x[..., c] or x[:, :, :, c].
        func channel(_ node: KerasGraph.Node) -> Int? {
            guard node.className == "GetItem", node.inputs.count == 1, node.inputs[0] == slices[0].inputs[0],
                  let index = node.arguments.first?.arrayValue, let last = index.last?.integerValue else { return nil }
            func isWholeAxis(_ item: JSON) -> Bool {
                item["class_name"]?.stringValue == "__slice__"
                    && ["start", "stop", "step"].allSatisfy { item["config"]?[$0]?.isNull ?? true }
            }
            let ellipsis = index.count == 2 && index[0]["class_name"]?.stringValue == "__ellipsis__"
            return ellipsis || (index.count == 4 && index.dropLast().allSatisfy(isWholeAxis)) ? last : nil
        }
        guard slices.map(channel) == [2, 1, 0] else { return nil }
        return (.caffe, slices[0].inputs[0])
    }
}

extension ResNetArchitecture {
    /// Conv2D layers in the base without its top: three or four per block, and the stem's.
    var convolutionCount: Int { 1 + 3 * blocksPerStage.reduce(0, +) + blocksPerStage.count }
}
