import Glibc
import GraftFoundation
import GraftIO
import GraftKernels

/// The model's weights alone, in Keras's files: `saveWeights` writes Keras
/// 3's `.weights.h5` (what `model.save_weights` writes and
/// `model.load_weights` reads), `loadWeights` reads that or a legacy `.h5`
/// (a Graft model file, or Keras's weights of the same layers by name).
///
/// Keras 3 places each layer's variables by position, not by name: a
/// layer's group is its class in snake case, numbered within its model in
/// layer order (`conv2d`, `conv2d_1`, ...), its variables `vars/0`,
/// `vars/1`, ... in Keras's order. Graft writes the model as Keras's
/// transfer-learning guide builds it, the base nested as one layer:
///
///     layers/input_layer, [layers/random_flip, layers/random_rotation, ...,]
///     layers/functional (the base:
///     its own layers/input_layer, layers/zero_padding2d, layers/conv2d, ...),
///     layers/global_average_pooling2d, layers/dense, ...
///
/// and reads that or the flat form (`ResNet50(input_tensor=...)`, the base's
/// layers beside the head's).
extension TransferModel {
    /// Keras's suffix for `save_weights` files.
    public static let weightsFileSuffix = ".weights.h5"

    /// Writes the weights to `path` (ending in ".weights.h5", as Keras
    /// requires), atomically as `save` does.
    public func saveWeights(to path: String) throws {
        guard path.hasSuffix(Self.weightsFileSuffix) else {
            throw GraftError.invalidArgument("The filename must end in `.weights.h5`. Received: filepath=\(path)")
        }
        try replaceAtomically(path) { temporary in
            let writer = try HDF5Writer(creating: temporary)
            try writeKeras3Weights(writer)
            try writer.close()
        }
    }

    /// The weights in Keras 3's layout, the base nested (`save_weights`'s
    /// file, and the weights of a `.keras` archive).
    func writeKeras3Weights(_ writer: HDF5Writer) throws {
        try writer.createGroup("/layers")
        try writer.createGroup("/vars")
        try writer.writeAttribute("name", strings: ["functional"], of: "/vars")
        for slot in weightSlots(nested: true) {
            for group in slot.newGroups { try writer.createGroup(group) }
            try writer.writeAttribute("name", strings: [slot.name], of: slot.path + "/vars")
            for (index, weight) in (slot.layer?.weights ?? []).enumerated() {
                try writer.writeDataset("\(slot.path)/vars/\(index)", shape: weight.shape, values: weight.data)
            }
        }
    }

    /// Reads weights written by Keras's `save_weights` or `saveWeights`
    /// (".weights.h5", nested or flat), a full-model ".h5" (Keras's
    /// `model.save` or `save`, nested or flat), or a legacy ".h5" holding
    /// every layer of the model by name. The weights change only if every one is found
    /// with the model's shape.
    public func loadWeights(from path: String) throws {
        guard access(path, F_OK) == 0 else { throw GraftError.io("weights file not found: \(path)") }
        let staged: [(Tensor, [Float])]
        if path.hasSuffix(Self.weightsFileSuffix) {
            staged = try stagedKeras3Weights(try HDF5File(readingFrom: path))
        } else if path.hasSuffix(".h5") || path.hasSuffix(".hdf5") {
            let file = try KerasWeightFile(path: path)
            if let description = try Self.fullModelDescription(file) {
                staged = try stagedFullModelWeights(file, description)
            } else {
                staged = try stagedWeights(file, of: layers)
            }
        } else {
            throw GraftError.invalidArgument(
                "File format not supported: filepath=\(path). Graft reads `.weights.h5` files and legacy `.h5` weight files.")
        }
        applyStaged(staged)
    }

    /// Sets the weights read ahead (all found, all of the right shape), then
    /// drops what they make stale.
    func applyStaged(_ staged: [(Tensor, [Float])]) {
        for (weight, values) in staged {
            values.withUnsafeBufferPointer { weight.data.update(from: $0.baseAddress!, count: weight.count) }
        }
        weightsChanged()
    }

    /// The weights of a file in Keras 3's layout (a `.weights.h5`, or the
    /// one in a `.keras` archive), nested or flat (as the model's config
    /// says, or else as the file's groups show), read ahead.
    /// `headLayersInBase`: how many of the head's layers Keras keeps inside
    /// the nested base (include_top's avg_pool and predictions).
    func stagedKeras3Weights(_ file: HDF5File, nested: Bool? = nil, headLayersInBase: Int = 0) throws -> [(Tensor, [Float])] {
        let path = file.path
        let nested = nested ?? file.exists("/layers/functional/layers")
        var staged: [(Tensor, [Float])] = []
        for slot in weightSlots(nested: nested, headLayersInBase: headLayersInBase) {
            guard let layer = slot.layer, !layer.weights.isEmpty else { continue }
            let count = layer.weights.count
            guard file.exists("\(slot.path)/vars/\(count - 1)"), !file.exists("\(slot.path)/vars/\(count)") else {
                throw GraftError.format("\(path): \(slot.path) does not hold the \(count) variables of layer \(layer.name) "
                                            + "(\(nested ? "nested" : "flat") Keras 3 layout)")
            }
            for (index, weight) in layer.weights.enumerated() {
                let dataset = "\(slot.path)/vars/\(index)"
                let shape = try file.shape(ofDataset: dataset)
                guard shape == weight.shape else {
                    throw GraftError.format("\(path): \(dataset) has shape \(shape), layer \(layer.name) needs \(weight.shape)")
                }
                var values = [Float](repeating: 0, count: weight.count)
                try values.withUnsafeMutableBufferPointer { try file.readFloats(dataset, into: $0.baseAddress!, count: weight.count) }
                staged.append((weight, values))
            }
        }
        return staged
    }

    /// The weights of `layers` from a file in Keras's legacy layout, by
    /// layer name (a Graft model file, Keras's legacy save_weights), read
    /// ahead: nothing changes unless every one is found with its shape.
    func stagedWeights(_ file: KerasWeightFile, of layers: some Sequence<Layer>) throws -> [(Tensor, [Float])] {
        var staged: [(Tensor, [Float])] = []
        for layer in layers where !layer.weights.isEmpty {
            guard file.contains(layer: layer.name) else {
                throw GraftError.format("\(file.path) holds no weights for layer \(layer.name)")
            }
            staged += try stagedWeights(file, try file.weights(of: layer.name), of: layer)
        }
        return staged
    }

    /// `stored`, the weights a file holds for `layer`, read ahead once their
    /// shapes are checked against the layer's.
    func stagedWeights(_ file: KerasWeightFile, _ stored: [KerasWeightFile.Weight], of layer: Layer) throws -> [(Tensor, [Float])] {
        guard stored.map(\.shape) == layer.weights.map(\.shape) else {
            throw GraftError.format("\(file.path): layer \(layer.name) holds weights of shapes \(stored.map(\.shape)), "
                                        + "the model needs \(layer.weights.map(\.shape))")
        }
        return try zip(layer.weights, stored).map { weight, value in
            var values = [Float](repeating: 0, count: weight.count)
            try values.withUnsafeMutableBufferPointer { try file.read(value, into: $0.baseAddress!, count: weight.count) }
            return (weight, values)
        }
    }

    /// Where each layer sits in Keras 3's layout, in the order Keras writes
    /// them: nested (the base as one "functional" layer) or flat.
    private func weightSlots(nested: Bool, headLayersInBase: Int = 0) -> [WeightSlot] {
        var slots: [WeightSlot] = []
        var top = KerasKeys(), inner = KerasKeys()
        func add(_ layer: Layer?, name: String, className: String, in container: String, keys: inout KerasKeys) {
            let path = "\(container)/\(keys.next(className))"
            slots.append(WeightSlot(path: path, name: name, layer: layer, newGroups: [path, path + "/vars"]))
        }
        /// The augmentation layers, weightless, after the input.
        func addAugmentation() {
            for (layer, name) in zip(augmentation, augmentationLayerNames) {
                add(nil, name: name, className: layer.kerasClassName, in: "/layers", keys: &top)
            }
        }
        let baseLayers = Array(layers[..<baseLayerCount]), headLayers = Array(layers[baseLayerCount...])
        if nested {
            add(nil, name: "input_layer", className: "InputLayer", in: "/layers", keys: &top)
            addAugmentation()
            let base = "/layers/" + top.next("Functional")
            slots.append(WeightSlot(path: base, name: self.base.architecture.rawValue, layer: nil,
                                    newGroups: [base, base + "/vars", base + "/layers"]))
            for layer in baseLayers + headLayers.prefix(headLayersInBase) {
                add(layer, name: layer.name, className: layer.kind.className, in: base + "/layers", keys: &inner)
            }
        } else {
            for layer in baseLayers.prefix(1) { add(layer, name: layer.name, className: layer.kind.className, in: "/layers", keys: &top) }
            addAugmentation()
            for layer in baseLayers.dropFirst() { add(layer, name: layer.name, className: layer.kind.className, in: "/layers", keys: &top) }
        }
        for layer in headLayers.dropFirst(nested ? headLayersInBase : 0) {
            add(layer, name: layer.name, className: layer.kind.className, in: "/layers", keys: &top)
        }
        return slots
    }
}

/// A layer's place in Keras 3's weights file; `layer` nil for one that
/// Graft does not keep as a layer (the outer input, RandomFlip, the nested
/// base itself), which holds no variables.
private struct WeightSlot {
    let path: String
    let name: String
    let layer: Layer?
    /// The groups to create for it, in order.
    let newGroups: [String]
}

/// Keras 3's keys for the layers of one model: the class in snake case
/// (keras.src.utils.naming.to_snake_case), "_1", "_2", ... for the second,
/// third, ... of a class.
struct KerasKeys {
    private var used: [String: Int] = [:]

    mutating func next(_ className: String) -> String {
        let base = Self.snakeCase(className)
        let count = used[base, default: 0]
        used[base] = count + 1
        return count == 0 ? base : "\(base)_\(count)"
    }

    /// "GlobalAveragePooling2D" -> "global_average_pooling2d", as Keras's
    /// two substitutions: an underscore before each capital that starts a
    /// lowercase run (not at the start), then between a lowercase letter
    /// and a capital.
    static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var first: [Character] = []
        for (i, c) in characters.enumerated() {
            if i > 0, c.isUppercase, i + 1 < characters.count, characters[i + 1].isLowercase { first.append("_") }
            first.append(c)
        }
        var second: [Character] = []
        for (i, c) in first.enumerated() {
            if i > 0, c.isUppercase, first[i - 1].isLowercase { second.append("_") }
            second.append(c)
        }
        return String(second).lowercased()
    }
}
