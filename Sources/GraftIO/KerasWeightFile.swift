import GraftFoundation

/// A weight file in Keras's legacy HDF5 layout, as `model.save_weights("x.h5")`
/// writes it and as the ImageNet files of `keras.applications` are published:
///
///     /                         attribute layer_names: the model's layers, in order
///     /<layer>                  attribute weight_names: e.g. "conv1_conv/kernel:0"
///     /<layer>/<weight name>    one dataset per weight
///
/// Weight names come with ":0" (Keras 2 and the ImageNet files) or without
/// (Keras 3's legacy writer). A whole-model file (`model.save("x.h5")`) keeps
/// the same tree under /model_weights, which is read too.
public struct KerasWeightFile {
    public let file: HDF5File
    /// The layers the file lists, in the writer's `model.layers` order.
    public let layerNames: [String]
    private let root: String

    public var path: String { file.path }

    public init(path: String) throws {
        file = try HDF5File(readingFrom: path)
        let root = file.exists("/model_weights") ? "/model_weights" : "/"
        guard let names = try file.stringAttribute("layer_names", of: root) else {
            throw GraftError.format("\(path) is not a Keras weight file: it has no layer_names attribute")
        }
        self.root = root
        self.layerNames = names
    }

    /// A weight as stored: its short name ("kernel", "bias", "gamma", "beta",
    /// "moving_mean", "moving_variance") and its shape; `read` reads its values.
    public struct Weight {
        public let name: String
        public let shape: [Int]
        /// The dataset's path in the file.
        let dataset: String
    }

    private func groupPath(_ layer: String) -> String {
        root == "/" ? "/" + layer : root + "/" + layer
    }

    /// Whether the file has a group for `layer`.
    public func contains(layer: String) -> Bool {
        layerNames.contains(layer) && file.exists(groupPath(layer))
    }

    /// The full weight names listed for `layer` (empty for a layer without
    /// weights).
    public func weightNames(of layer: String) throws -> [String] {
        guard contains(layer: layer) else {
            throw GraftError.format("\(path) has no layer named \(layer)")
        }
        return try file.stringAttribute("weight_names", of: groupPath(layer)) ?? []
    }

    /// The shapes of `layer`'s weights, by short name, without reading them.
    public func weightShapes(of layer: String) throws -> [(name: String, shape: [Int])] {
        try weightNames(of: layer).map { full in
            (KerasWeightFile.shortName(full), try file.shape(ofDataset: groupPath(layer) + "/" + full))
        }
    }

    /// All of `layer`'s weights, in the file's order, as declared (nothing
    /// is read but their shapes).
    public func weights(of layer: String) throws -> [Weight] {
        try weightNames(of: layer).map { full in
            let dataset = groupPath(layer) + "/" + full
            return Weight(name: KerasWeightFile.shortName(full), shape: try file.shape(ofDataset: dataset),
                          dataset: dataset)
        }
    }

    /// The weights of `layer` inside a nested model saved as the one layer
    /// `model` (Keras 3's full-model file: group "resnet50", whose
    /// weight_names read "conv1_conv/kernel", ...), in the file's order.
    public func weights(of layer: String, nestedIn model: String) throws -> [Weight] {
        let prefix = layer + "/"
        return try weightNames(of: model).filter { $0.hasPrefix(prefix) }.map { full in
            let dataset = groupPath(model) + "/" + full
            return Weight(name: KerasWeightFile.shortName(full), shape: try file.shape(ofDataset: dataset), dataset: dataset)
        }
    }

    /// Reads `weight`'s values into `count` floats at `output`: the caller
    /// has checked its shape against the one it expects, so nothing is
    /// allocated from what the file declares.
    public func read(_ weight: Weight, into output: UnsafeMutablePointer<Float>, count: Int) throws {
        try file.readFloats(weight.dataset, into: output, count: count)
    }

    /// "conv1_conv/kernel:0" -> "kernel".
    public static func shortName(_ fullName: String) -> String {
        var name = Substring(fullName.split(separator: "/").last ?? "")
        if let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        return String(name)
    }
}
