import GraftFoundation
import GraftIO
import GraftKernels

extension Network {
    /// Loads every weight of this network from a Keras legacy HDF5 file,
    /// matching layers by name and weights by their Keras names, checking
    /// every shape. A file that also holds a classification top (Dense layers
    /// after the base) is accepted and the top ignored; a file that holds
    /// other layers with weights is of another architecture and is refused.
    ///
    /// Nothing changes unless every weight reads and fits: on error the
    /// network keeps the weights it had.
    public func loadWeights(from file: KerasWeightFile, modelName: String) throws {
        // Every layer's weights found and their shapes checked before any
        // is read: nothing is allocated from a shape the file declares.
        var found: [[KerasWeightFile.Weight]] = []
        for layer in layers {
            guard !layer.weights.isEmpty else {
                found.append([])
                continue
            }
            guard file.contains(layer: layer.name) else {
                throw GraftError.format(
                    "\(file.path) has no weights for layer \(layer.name), which \(modelName) needs: it is not a \(modelName) weight file")
            }
            let stored = try file.weights(of: layer.name)
            var matched: [KerasWeightFile.Weight] = []
            for (name, expected) in zip(layer.weightNames, layer.weightShapes) {
                guard let weight = stored.first(where: { $0.name == name }) else {
                    throw GraftError.format(
                        "\(file.path): layer \(layer.name) has no weight \(name) (it has: \(stored.map(\.name).joined(separator: ", ")))")
                }
                guard weight.shape == expected else {
                    throw GraftError.format(
                        "\(file.path): layer \(layer.name) weight \(name) has shape \(describe(weight.shape)), \(modelName) expects \(describe(expected))")
                }
                matched.append(weight)
            }
            guard stored.count == matched.count else {
                throw GraftError.format(
                    "\(file.path): layer \(layer.name) has \(stored.count) weights (\(stored.map(\.name).joined(separator: ", "))), \(modelName) expects \(matched.count) (\(layer.weightNames.joined(separator: ", ")))")
            }
            found.append(matched)
        }
        try checkNoForeignLayers(in: file, modelName: modelName)
        var loaded: [[Tensor]] = []
        for weights in found {
            loaded.append(try weights.map { weight in
                let tensor = Tensor(shape: weight.shape)
                try file.read(weight, into: tensor.data, count: tensor.count)
                return tensor
            })
        }
        for (layer, weights) in zip(layers, loaded) where !weights.isEmpty {
            layer.weights = weights
        }
    }

    /// Refuses a file whose extra weighted layers are not a classification
    /// top: e.g. a ResNet101 file holds every layer of ResNet50 with the same
    /// shapes, and would otherwise load into ResNet50 without complaint.
    private func checkNoForeignLayers(in file: KerasWeightFile, modelName: String) throws {
        let ours = Set(layers.map(\.name))
        let lastOfOurs = file.layerNames.lastIndex { ours.contains($0) } ?? -1
        for (position, name) in file.layerNames.enumerated() where !ours.contains(name) {
            let shapes = try file.weightShapes(of: name)
            if shapes.isEmpty { continue }
            let isTopDense = position > lastOfOurs && shapes.allSatisfy { $0.shape.count <= 2 }
            guard isTopDense else {
                throw GraftError.format(
                    "\(file.path) holds layer \(name) with weights, which \(modelName) does not have: it is a weight file of another architecture")
            }
        }
    }
}

func describe(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
