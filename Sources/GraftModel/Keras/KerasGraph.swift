import GraftFoundation

/// The layers of a Keras 3 model's configuration (`config.json` of a
/// `.keras` archive, the `model_config` attribute of a full-model `.h5`)
/// as a graph: each layer with the names of the layers it reads.
/// Functional models list their connections; a Sequential model's layers
/// read the one before.
struct KerasGraph {
    struct Node {
        let name: String
        let className: String
        let config: JSON
        /// The layers whose outputs it reads, in argument order.
        let inputs: [String]
        /// The constant tensors among its arguments (an `Add` of
        /// preprocess_input's means), flattened.
        let constants: [[Double]]
        /// The literal arguments after the tensors (GetItem's index).
        let arguments: [JSON]
    }

    let name: String
    let nodes: [Node]
    let outputName: String
    let trainable: Bool
    /// Each name's first node: lookups stay linear in the walk's length.
    private let positions: [String: Int]

    /// Reads a model's serialized form ({"class_name": "Functional", "config": {...}}).
    init(model: JSON) throws {
        guard let className = model["class_name"]?.stringValue, let config = model["config"],
              let layers = config["layers"]?.arrayValue else {
            throw GraftError.format("the model configuration holds no layers (not a Keras model config)")
        }
        name = config["name"]?.stringValue ?? "model"
        trainable = config["trainable"]?.boolValue ?? true
        switch className {
        case "Functional", "Model":
            nodes = try layers.map(Self.functionalNode)
            guard let output = Self.singleTensor(config["output_layers"]) else {
                throw GraftError.format("model \(name): Graft builds models of one output")
            }
            outputName = output
        case "Sequential":
            var nodes: [Node] = []
            for layer in layers {
                let base = try Self.functionalNode(layer)
                nodes.append(Node(name: base.name, className: base.className, config: base.config,
                                  inputs: nodes.last.map { [$0.name] } ?? [], constants: [], arguments: []))
            }
            guard let last = nodes.last, nodes[0].className == "InputLayer" else {
                throw GraftError.format("Sequential model \(name) has no Input: Graft reads the input's shape from it")
            }
            self.nodes = nodes
            outputName = last.name
        default:
            throw GraftError.format("the model is a \(className); Graft reads Functional and Sequential models")
        }
        positions = Dictionary(nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func node(_ name: String) throws -> Node {
        guard let position = positions[name] else {
            throw GraftError.format("model \(self.name): no layer named \(name)")
        }
        return nodes[position]
    }

    /// Refuses a walk along the graph that has taken more steps than it has
    /// layers: its connections loop (a hostile or corrupt config).
    func checkWalk(_ steps: Int) throws {
        guard steps <= nodes.count else { throw GraftError.format("model \(name): its layers' connections form a loop") }
    }

    /// ["name", 0, 0] or [["name", 0, 0]]: a model's single input or output.
    private static func singleTensor(_ value: JSON?) -> String? {
        guard let list = value?.arrayValue else { return nil }
        if let name = list.first?.stringValue { return name }
        guard list.count == 1 else { return nil }
        return list[0].arrayValue?.first?.stringValue
    }

    private static func functionalNode(_ layer: JSON) throws -> Node {
        guard let className = layer["class_name"]?.stringValue, let config = layer["config"],
              let name = layer["name"]?.stringValue ?? config["name"]?.stringValue else {
            throw GraftError.format("a layer of the model configuration has no class, config or name")
        }
        let inbound = layer["inbound_nodes"]?.arrayValue ?? []
        guard inbound.count <= 1 else {
            throw GraftError.format("layer \(name) (\(className)) is called \(inbound.count) times; Graft builds each layer once")
        }
        var inputs: [String] = [], constants: [[Double]] = [], arguments: [JSON] = []
        if let call = inbound.first {
            for argument in call["args"]?.arrayValue ?? [] {
                let tensors = keras3Tensors(argument)
                if !tensors.isEmpty {
                    inputs += tensors
                } else if argument["class_name"]?.stringValue == "__tensor__" {
                    constants.append(flattened(argument["config"]?["value"]))
                } else {
                    arguments.append(argument)
                }
            }
        }
        return Node(name: name, className: className, config: config, inputs: inputs, constants: constants, arguments: arguments)
    }

    /// The layers named by the Keras tensors in an argument (a tensor or a list of them).
    private static func keras3Tensors(_ value: JSON) -> [String] {
        if value["class_name"]?.stringValue == "__keras_tensor__",
           let history = value["config"]?["keras_history"]?.arrayValue, let layer = history.first?.stringValue {
            return [layer]
        }
        guard let list = value.arrayValue, !list.isEmpty else { return [] }
        let names = list.map(keras3Tensors)
        return names.allSatisfy({ $0.count == 1 }) ? names.flatMap { $0 } : []
    }

    private static func flattened(_ value: JSON?) -> [Double] {
        guard let value else { return [] }
        if let number = value.doubleValue { return [number] }
        return (value.arrayValue ?? []).flatMap { flattened($0) }
    }
}
