import Glibc
import GraftData
import GraftFoundation
import GraftIO
import GraftKernels

/// Keras 3's own model files: a `.keras` archive (`config.json`,
/// `metadata.json`, `model.weights.h5` in Keras 3's weights layout) and a
/// legacy full-model `.h5` (the `model_config` attribute, the weights under
/// /model_weights, a nested base as one group), read; the archive written.
/// `KerasModelDescription` says which models Graft reads.
extension TransferModel {
    /// Keras's suffix for its archive format.
    public static let kerasArchiveSuffix = ".keras"
    static let archiveConfigName = "config.json"
    static let archiveMetadataName = "metadata.json"
    static let archiveWeightsName = "model.weights.h5"
    /// What Keras's archive has no place for and Graft keeps: the class
    /// names, as {"class_names": [...]} (Keras ignores the member).
    static let archiveGraftName = "graft.json"
    /// The largest `config.json` read (a ResNet152's is about 0.5 MB).
    static let maxConfigBytes = 16 << 20

    /// Writes the model as a Keras 3 `.keras` archive (what
    /// `keras.models.load_model` opens): its config (`kerasModelConfig`),
    /// metadata, the weights as `saveWeights` writes them, and the class
    /// names when the model has them. Atomic, as `save`.
    func saveKerasArchive(to path: String) throws {
        let config = Array(kerasModelConfig.text.utf8)
        var now = time(nil), parts = tm()
        gmtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        // Keras's own form: 2026-12-07@22:35:13 (UTC here).
        let date = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))@"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        let metadata = JSON.object([JSON.Member("keras_version", .string(Self.kerasFormatVersion)),
                                    JSON.Member("date_saved", .string(date))])
        try replaceAtomically(path) { temporary in
            let weights = temporary + ".weights.h5"
            defer { unlink(weights) }
            let writer = try HDF5Writer(creating: weights)
            try writeKeras3Weights(writer)
            try writer.close()
            let archive = try ZipWriter(creating: temporary)
            try archive.add(Self.archiveMetadataName, bytes: Array(metadata.text.utf8))
            try archive.add(Self.archiveConfigName, bytes: config)
            try archive.add(Self.archiveWeightsName, contentsOf: weights)
            if let classNames {
                let graft = JSON.object([JSON.Member("class_names", .array(classNames.map { .string($0) }))])
                try archive.add(Self.archiveGraftName, bytes: Array(graft.text.utf8))
            }
            try archive.close()
        }
    }

    /// Reads a Keras 3 `.keras` archive.
    static func loadKerasArchive(_ path: String, threads: Int, precision: Precision) throws -> TransferModel {
        let archive = try ZipArchive(readingFrom: path)
        let config = try JSON.parse(try archive.contents(of: archiveConfigName, limit: maxConfigBytes))
        let description = try describing(config, in: path)
        let model = try TransferModel(keras: description, seed: 0, threads: threads, file: path)
        // The weights file holds the model's weights and HDF5's bookkeeping:
        // a member much larger is refused before it is read.
        let weightBytes = model.layers.reduce(0) { $0 + $1.weights.reduce(0) { $0 + $1.count } } * MemoryLayout<Float>.stride
        let weights = try HDF5File(image: try archive.contents(of: archiveWeightsName, limit: 2 * weightBytes + (64 << 20)),
                                   path: path + "/" + archiveWeightsName)
        model.applyStaged(try model.stagedKeras3Weights(weights, nested: description.nestedBaseName != nil,
                                                        headLayersInBase: description.headLayers.filter(\.inNestedBase).count))
        if archive.member(named: archiveGraftName) != nil {
            let graft = try JSON.parse(try archive.contents(of: archiveGraftName, limit: maxConfigBytes))
            guard let names = graft["class_names"]?.arrayValue?.compactMap(\.stringValue), names.count == graft["class_names"]?.arrayValue?.count
            else { throw GraftError.format("\(path): \(archiveGraftName) holds no list of class names") }
            try model.setClassNames(names)
        }
        try model.setPrecision(precision)
        return model
    }

    /// Reads a Keras full-model `.h5` (`model.save("m.h5")`).
    static func loadKerasFullModel(_ file: KerasWeightFile, threads: Int, precision: Precision) throws -> TransferModel {
        let model = try kerasFullModel(file, seed: 0, threads: threads)
        try model.setPrecision(precision)
        return model
    }

    /// The model of a full-model `.h5` (Keras's, or Graft's since format 2):
    /// its `model_config` attribute, then every weight by layer name.
    static func kerasFullModel(_ file: KerasWeightFile, seed: UInt64, threads: Int) throws -> TransferModel {
        guard let description = try fullModelDescription(file) else {
            throw GraftError.format("\(file.path) is not a Graft model file nor a Keras full-model file (it has neither a /graft "
                                        + "group nor a model_config attribute): a weights file is read with load_weights")
        }
        let model = try TransferModel(keras: description, seed: seed, threads: threads, file: file.path)
        model.applyStaged(try model.stagedFullModelWeights(file, description))
        return model
    }

    /// The model a full-model file's `model_config` describes; nil for a
    /// file without one.
    static func fullModelDescription(_ file: KerasWeightFile) throws -> KerasModelDescription? {
        guard let text = try file.file.stringAttribute("model_config")?.first else { return nil }
        return try describing(try JSON.parse(Array(text.utf8)), in: file.path)
    }

    /// Every weight of a full-model file (`description` its model), read
    /// ahead for this model's layers: the base's by name, inside the nested
    /// base's group when the file nests it, the head's by Keras's names.
    func stagedFullModelWeights(_ file: KerasWeightFile, _ description: KerasModelDescription) throws -> [(Tensor, [Float])] {
        let head = layers[baseLayerCount...]
        guard head.map(\.kind) == description.headLayers.map(\.kind) else {
            throw GraftError.format("\(file.path): the file's head (\(description.headLayers.map(\.kerasName).joined(separator: ", "))) "
                                        + "is not this model's (\(head.map(\.name).joined(separator: ", ")))")
        }
        var staged: [(Tensor, [Float])] = []
        for layer in layers[..<baseLayerCount] where !layer.weights.isEmpty {
            let stored = try description.nestedBaseName.map { try file.weights(of: layer.name, nestedIn: $0) }
                ?? file.weights(of: layer.name)
            staged += try stagedWeights(file, stored, of: layer)
        }
        for (layer, keras) in zip(head, description.headLayers) where !layer.weights.isEmpty {
            let stored = try keras.inNestedBase ? file.weights(of: keras.kerasName, nestedIn: description.nestedBaseName!)
                                                : file.weights(of: keras.kerasName)
            staged += try stagedWeights(file, stored, of: layer)
        }
        return staged
    }

    /// Keras's full-model layout, as `model.save("m.h5")` writes it: the
    /// config (`kerasModelConfig`) in attribute `model_config`, and under
    /// /model_weights one group per layer of the outer model, the nested
    /// base's weights in its group ("resnet50/conv1_conv/kernel", ...) in the
    /// order Keras's loader takes them: the trainable ones first.
    func writeKerasFullModel(_ writer: HDF5Writer) throws {
        let config = kerasModelConfig
        try writer.writeAttribute("model_config", text: config.text)
        let outerLayers = (config["config"]?["layers"]?.arrayValue ?? [])
            .filter { $0["module"]?.stringValue == "keras.layers" || $0["class_name"]?.stringValue == "Functional" }
            .compactMap { $0["name"]?.stringValue }
        let root = "/model_weights"
        try writer.createGroup(root)
        for object in ["/", root] {
            try writer.writeAttribute("backend", strings: ["tensorflow"], of: object)
            // Keras's loader reads a file without keras_version as Keras 1's.
            try writer.writeAttribute("keras_version", strings: [Self.kerasFormatVersion], of: object)
        }
        try writer.writeAttribute("layer_names", strings: outerLayers, of: root)
        let baseName = base.architecture.kerasName
        let head = Dictionary(uniqueKeysWithValues: layers[baseLayerCount...].map { ($0.name, $0) })
        for name in outerLayers {
            let group = root + "/" + name
            try writer.createGroup(group)
            var weights: [(name: String, tensor: Tensor)] = []
            if name == baseName {
                weights = kerasLegacyBaseWeights
            } else if let layer = head[name] {
                weights = zip(layer.weightNames, layer.weights).map { ("\(name)/\($0)", $1) }
            }
            try writer.writeAttribute("weight_names", strings: weights.map(\.name), of: group)
            for folder in Set(weights.map { $0.name.split(separator: "/")[0] }).sorted() {
                try writer.createGroup(group + "/" + folder)
            }
            for weight in weights {
                try writer.writeDataset(group + "/" + weight.name, shape: weight.tensor.shape, values: weight.tensor.data)
            }
        }
    }

    /// The base's weights as Keras's legacy writer lists a nested model's
    /// (`trainable_weights + non_trainable_weights`): those that train
    /// (kernels, biases, gamma and beta of trainable layers), then the rest,
    /// each part in layer order.
    private var kerasLegacyBaseWeights: [(name: String, tensor: Tensor)] {
        var trainable: [(name: String, tensor: Tensor)] = [], frozen: [(name: String, tensor: Tensor)] = []
        for layer in layers[..<baseLayerCount] {
            for (index, (name, weight)) in zip(layer.weightNames, layer.weights).enumerated() {
                let isMovingStatistic = index >= 2 && layer.kind.className == "BatchNormalization"
                if layer.trainable && !isMovingStatistic {
                    trainable.append(("\(layer.name)/\(name)", weight))
                } else {
                    frozen.append(("\(layer.name)/\(name)", weight))
                }
            }
        }
        return trainable + frozen
    }

    private static func describing(_ config: JSON, in path: String) throws -> KerasModelDescription {
        do {
            return try KerasModelDescription(model: config)
        } catch let error as GraftError {
            throw GraftError(error.kind, "\(path): \(error.message)")
        }
    }

    /// The model `description` describes, its weights Keras's initial ones
    /// until read; refused unless Graft's layers are the very ones Keras lists
    /// and the head's weights fit in `file`.
    convenience init(keras description: KerasModelDescription, seed: UInt64, threads: Int, file: String) throws {
        var options = ModelOptions()
        options.architecture = description.architecture
        (options.inputHeight, options.inputWidth) = (description.inputHeight, description.inputWidth)
        options.preprocessing = description.preprocessing
        options.threads = threads
        let base = try Model(options)
        let graftBase = base.base.layers.dropFirst()
        guard graftBase.count == description.baseLayers.count else {
            throw GraftError.format("the base has \(description.baseLayers.count) layers; Graft's \(description.architecture.kerasName) has \(graftBase.count)")
        }
        for (index, (graft, keras)) in zip(graftBase, description.baseLayers).enumerated() {
            let inputs = graft.inputs.map { base.base.layers[$0].name }
            guard graft.name == keras.name, graft.kind == keras.kind, index == 0 || inputs == keras.inputs else {
                throw GraftError.format("layer \(keras.name) of the base (\(keras.kind.className)) is not layer \(graft.name) of Keras's \(description.architecture.kerasName) as Graft builds it")
            }
        }
        try description.head.requireFits(on: base.base, file: file)
        try self.init(base: base, head: description.head, augmentation: description.augmentation, seed: seed)
        let head = layers[baseLayerCount...]
        guard head.map(\.kind) == description.headLayers.map(\.kind) else {
            throw GraftError.format("the head (\(description.headLayers.map(\.kerasName).joined(separator: ", "))) is not one Graft builds: "
                                        + "GlobalAveragePooling2D or Flatten, hidden Dense layers with ReLU each followed by the same Dropout (or one Dropout after the pooling), then Dense without activation")
        }
        for (layer, keras) in zip(graftBase, description.baseLayers) { layer.trainable = keras.trainable }
        for (layer, keras) in zip(head, description.headLayers) { layer.trainable = keras.trainable }
        derivedStateChanged(.trainability)
    }
}
