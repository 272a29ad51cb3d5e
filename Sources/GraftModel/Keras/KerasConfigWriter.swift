import GraftData
import GraftFoundation

/// The model as Keras 3 serializes it (`model.get_config()` wrapped by
/// `serialize_keras_object`), shaped as Keras's transfer-learning guide and
/// the seed build it: the input, the augmentation layers, preprocess_input
/// as Keras 3 traces it (three GetItem, a Stack, an Add of the negated
/// means) or Rescaling(1/255), the base nested as one Functional layer
/// called with training=False, then the head. What `KerasModelDescription`
/// reads back.
extension TransferModel {
    /// The Keras release whose file layouts Graft writes and was tested
    /// against; Keras's loaders read it from the files.
    public static let kerasFormatVersion = "3.15.1"

    var kerasModelConfig: JSON {
        var outer = KerasConfigBuilder()
        var x = outer.add(layers[0], name: "input_layer", inputs: [])
        for (layer, name) in zip(augmentation, augmentationLayerNames) {
            x = outer.add(className: layer.kerasClassName, name: name, arguments: layer.kerasConfig, inputs: [x])
        }
        switch base.preprocessing {
        case .caffe:
            // x[:, :, :, 2], x[:, :, :, 1], x[:, :, :, 0] stacked: RGB to BGR.
            // (Keras traces x[..., 2]; its legacy .h5 loader cannot read an
            // Ellipsis back, and reads these full slices.)
            let everything = JSON.object([JSON.Member("class_name", .string("__slice__")),
                                          JSON.Member("config", .object(["start", "stop", "step"].map { JSON.Member($0, .null) }))])
            let channels = [2, 1, 0].enumerated().map { i, channel in
                outer.addOperation("GetItem", name: i == 0 ? "get_item" : "get_item_\(i)", config: [],
                                   arguments: [.tensor(x), .literal(.array(Array(repeating: everything, count: 3) + [.integer(Int64(channel))]))],
                                   shape: Array(x.shape.dropLast()))
            }
            let stacked = outer.addOperation("Stack", name: "stack", config: [JSON.Member("axis", .integer(-1))],
                                             arguments: [.tensors(channels)], shape: x.shape)
            let (b, g, r) = Preprocessing.caffeMeansBGR
            let means = JSON.array([.array([.array([.array([b, g, r].map { .number(Double(-$0)) })])])])
            x = outer.addOperation("Add", name: "add", config: [], arguments: [.tensor(stacked), .constant(means)], shape: x.shape)
        case .rescale:
            x = outer.add(className: "Rescaling", name: "rescaling",
                          arguments: [JSON.Member("scale", .number(Preprocessing.rescaleScale)), JSON.Member("offset", .number(0))], inputs: [x])
        case .none:
            break
        }
        var inner = KerasConfigBuilder()
        var tensors: [KerasConfigBuilder.Tensor] = []
        for layer in layers[..<baseLayerCount] {
            tensors.append(inner.add(layer, name: layer.name, inputs: layer.inputs.map { tensors[$0] }))
        }
        let baseFrozen = layers[..<baseLayerCount].dropFirst().allSatisfy { !$0.trainable }
        let nestedBase = KerasConfigBuilder.functional(name: base.architecture.kerasName, trainable: !baseFrozen, layers: inner.layers,
                                                       input: tensors[0], output: tensors.last!)
        x = outer.addNested(nestedBase, name: base.architecture.kerasName, input: x, outputShape: tensors.last!.shape)
        for layer in layers[baseLayerCount...].dropLast() { x = outer.add(layer, name: layer.name, inputs: [x]) }
        // The output Dense, with the activation of a model read with one.
        let output = layers.last!
        let arguments = output.kind.kerasArguments.map {
            $0.key == "activation" ? JSON.Member("activation", .string(head.outputActivation.rawValue)) : $0
        }
        x = outer.add(className: output.kind.className, name: output.name, arguments: arguments, trainable: output.trainable,
                      inputs: [x], shape: output.outputShape)
        return KerasConfigBuilder.functional(name: "functional", trainable: true, layers: outer.layers,
                                             input: outer.firstTensor!, output: x)
    }
}

/// Assembles Keras 3's serialized layers, each with its inbound node.
private struct KerasConfigBuilder {
    struct Tensor {
        let layer: String
        /// One image's shape (Keras's without the batch's None).
        let shape: [Int]

        var json: JSON {
            .object([JSON.Member("class_name", .string("__keras_tensor__")),
                     JSON.Member("config", .object([JSON.Member("shape", .array([.null] + shape.map { .integer(Int64($0)) })),
                                                    JSON.Member("dtype", .string("float32")),
                                                    JSON.Member("keras_history", .array([.string(layer), .integer(0), .integer(0)]))]))])
        }
    }

    enum Argument {
        case tensor(Tensor), tensors([Tensor]), constant(JSON), literal(JSON)

        var json: JSON {
            switch self {
            case .tensor(let t): t.json
            case .tensors(let ts): .array(ts.map(\.json))
            case .constant(let value):
                .object([JSON.Member("class_name", .string("__tensor__")),
                         JSON.Member("config", .object([JSON.Member("value", value), JSON.Member("dtype", .string("float32"))]))])
            case .literal(let value): value
            }
        }
    }

    var layers: [JSON] = []
    var firstTensor: Tensor?

    /// Keras's float32 dtype policy, in every layer's config. Built per use:
    /// a global of indirect-enum values reads as leaked to LeakSanitizer,
    /// whose scan does not follow Swift's tagged pointers.
    static var dtypePolicy: JSON {
        .object([
            JSON.Member("module", .string("keras")), JSON.Member("class_name", .string("DTypePolicy")),
            JSON.Member("config", .object([JSON.Member("name", .string("float32"))])), JSON.Member("registered_name", .null)])
    }

    /// Graft's layer `layer` as Keras's, named `name`.
    mutating func add(_ layer: Layer, name: String, inputs: [Tensor]) -> Tensor {
        if case .input = layer.kind {
            let config: [JSON.Member] = [
                JSON.Member("batch_shape", .array([.null] + layer.outputShape.map { .integer(Int64($0)) })),
                JSON.Member("dtype", .string("float32")), JSON.Member("sparse", .bool(false)), JSON.Member("name", .string(name))]
            append(module: "keras.layers", className: "InputLayer", config: config, registeredName: .null, name: name, call: nil)
            let tensor = Tensor(layer: name, shape: layer.outputShape)
            if firstTensor == nil { firstTensor = tensor }
            return tensor
        }
        return add(className: layer.kind.className, name: name, arguments: layer.kind.kerasArguments, trainable: layer.trainable,
                   inputs: inputs, shape: layer.outputShape)
    }

    /// A layer of `keras.layers` reading `inputs` (one tensor, or the list an Add takes).
    mutating func add(className: String, name: String, arguments: [JSON.Member], trainable: Bool = true,
                      inputs: [Tensor], shape: [Int]? = nil) -> Tensor {
        let config = [JSON.Member("name", .string(name)), JSON.Member("trainable", .bool(trainable)),
                      JSON.Member("dtype", Self.dtypePolicy)] + arguments
        let argument: Argument = inputs.count == 1 ? .tensor(inputs[0]) : .tensors(inputs)
        append(module: "keras.layers", className: className, config: config, registeredName: .null, name: name,
               call: ([argument], []))
        return Tensor(layer: name, shape: shape ?? inputs[0].shape)
    }

    /// One of `keras.ops`'s operations, as a functional model records it.
    mutating func addOperation(_ className: String, name: String, config: [JSON.Member], arguments: [Argument],
                               shape: [Int]) -> Tensor {
        append(module: "keras.src.ops.numpy", className: className, config: [JSON.Member("name", .string(name))] + config,
               registeredName: .string(className), name: name, call: (arguments, []))
        return Tensor(layer: name, shape: shape)
    }

    /// A nested model called on `input` with training=False, as the guide calls its base.
    mutating func addNested(_ model: JSON, name: String, input: Tensor, outputShape: [Int]) -> Tensor {
        guard case .object(var members) = model else { return input }
        members.append(JSON.Member("name", .string(name)))
        members.append(JSON.Member("inbound_nodes", .array([Self.call([.tensor(input)], kwargs: [JSON.Member("training", .bool(false))])])))
        layers.append(.object(members))
        return Tensor(layer: name, shape: outputShape)
    }

    static func functional(name: String, trainable: Bool, layers: [JSON], input: Tensor, output: Tensor) -> JSON {
        func endpoint(_ t: Tensor) -> JSON { .array([.string(t.layer), .integer(0), .integer(0)]) }
        return .object([
            JSON.Member("module", .string("keras.src.models.functional")), JSON.Member("class_name", .string("Functional")),
            JSON.Member("config", .object([JSON.Member("name", .string(name)), JSON.Member("trainable", .bool(trainable)),
                                           JSON.Member("layers", .array(layers)), JSON.Member("input_layers", endpoint(input)),
                                           JSON.Member("output_layers", endpoint(output))])),
            JSON.Member("registered_name", .string("Functional")), JSON.Member("build_config", .object([JSON.Member("input_shape", .null)])),
            JSON.Member("compile_config", .null)])
    }

    private static func call(_ arguments: [Argument], kwargs: [JSON.Member]) -> JSON {
        .object([JSON.Member("args", .array(arguments.map(\.json))), JSON.Member("kwargs", .object(kwargs))])
    }

    private mutating func append(module: String, className: String, config: [JSON.Member], registeredName: JSON, name: String,
                                 call: ([Argument], [JSON.Member])?) {
        layers.append(.object([
            JSON.Member("module", .string(module)), JSON.Member("class_name", .string(className)),
            JSON.Member("config", .object(config)), JSON.Member("registered_name", registeredName), JSON.Member("name", .string(name)),
            JSON.Member("inbound_nodes", .array(call.map { [Self.call($0.0, kwargs: $0.1)] } ?? []))]))
    }
}
