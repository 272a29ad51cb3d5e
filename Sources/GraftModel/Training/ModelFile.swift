import Glibc
import GraftData
import GraftFoundation
import GraftIO
import GraftKernels

/// A whole model in one HDF5 file (format 2): Keras's full-model layout
/// (`KerasModelFile.swift`: what `keras.models.load_model` opens, and the
/// same model's `load_weights` reads), and in group /graft what Keras's
/// layout has no place for:
///
///     /                        model_config (the model as Keras serializes
///                              it, the base nested), backend, keras_version
///     /model_weights           layer_names; one group per layer of the outer
///                              model, weight_names e.g. "dense/kernel"
///     /model_weights/resnet50  the nested base's weights, "conv1_conv/kernel", …
///     /graft                   format_version, architecture, input_size,
///                              preprocessing, head_pooling, head_hidden_units,
///                              head_dropout, augmentation, seed, trainable
///                              (one flag per layer), and when present
///                              class_names, optimizer and optimizer_options,
///                              the optimizer's step count, calibration_layers
///                              and calibration_ranges (int8's, `Calibration`)
///     /optimizer_weights       the optimizer's slots (`writeOptimizerState`)
///
/// Format 1 files (every layer's group at the root, the model read from
/// /graft alone) still load.
extension TransferModel {
    static let fileFormatVersion: Int64 = 2
    private static let graftGroup = "/graft"
    /// The names of `optimizer_options` in files that do not list them
    /// (`optimizer_option_names`): those written before RMSprop, AdamW,
    /// weight decay, clipping and schedules.
    fileprivate static let firstOptimizerFields = ["learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon"]

    /// Writes the model to `path` atomically (`replaceAtomically`: a new
    /// file beside it, flushed, renamed over it; a symbolic link written
    /// through, anything but a regular file refused). A failure leaves any
    /// previous file at `path` as it was. `format`: checksummed by default
    /// (a damaged file is an error at load), or HDF5's earliest layout for
    /// readers older than HDF5 1.10.
    public func save(to path: String, format: HDF5Writer.Format = .checksummed) throws {
        if path.hasSuffix(Self.kerasArchiveSuffix) { return try saveKerasArchive(to: path) }
        try replaceAtomically(path) { temporary in
            let writer = try HDF5Writer(creating: temporary, format: format)
            try writeKerasFullModel(writer)
            try writeGraftAttributes(writer)
            try writeOptimizerState(writer)
            try writer.close()
        }
    }

    /// Reads a model written by `save`, or one Keras saved (a `.keras`
    /// archive or a full-model `.h5`, `KerasModelFile.swift`). It computes exactly what the saved
    /// model computed (in float32; `precision` as `ModelOptions.precision`,
    /// int8 by the saved calibration), and is compiled with the saved
    /// optimizer options if that model was compiled.
    public static func load(from path: String, threads: Int = 0, precision: Precision = .float32) throws
        -> TransferModel {
        guard access(path, F_OK) == 0 else { throw GraftError.io("model file not found: \(path)") }
        if path.hasSuffix(kerasArchiveSuffix) { return try loadKerasArchive(path, threads: threads, precision: precision) }
        let file = try KerasWeightFile(path: path)
        let graft = graftGroup
        guard file.file.exists(graft) else { return try loadKerasFullModel(file, threads: threads, precision: precision) }
        guard let version = try file.file.integerAttribute("format_version", of: graft)?.first else {
            throw GraftError.format("\(path): the /graft group has no format_version (the file is damaged)")
        }
        guard version == 1 || version == fileFormatVersion else {
            throw GraftError.format("\(path) is a Graft model file of format \(version); this library reads formats 1 and \(fileFormatVersion)")
        }
        let reader = AttributeReader(file: file.file, group: graft)
        let seed = UInt64(bitPattern: try reader.integers("seed", count: 1)[0])
        let model = version == 1 ? try firstFormatModel(file, reader, seed: seed, threads: threads)
                                 : try kerasFullModel(file, seed: seed, threads: threads)

        let trainable = try reader.integers("trainable", count: model.layers.count)
        for (layer, flag) in zip(model.layers, trainable) { layer.trainable = flag != 0 }
        if let names = try file.file.stringAttribute("class_names", of: graft) {
            try model.setClassNames(names)
        }
        if try file.file.stringAttribute("optimizer", of: graft) != nil {
            // Files written before the loss had options hold no label_smoothing.
            let smoothing = try file.file.doubleAttribute("label_smoothing", of: graft)
            guard smoothing == nil || smoothing!.count == 1 else {
                throw GraftError.format("\(path): the Graft attribute label_smoothing is malformed")
            }
            // Nor a binary accuracy threshold (nor a binary head).
            let threshold = try file.file.doubleAttribute("binary_accuracy_threshold", of: graft)
            guard threshold == nil || (threshold!.count == 1 && threshold![0].isFinite) else {
                throw GraftError.format("\(path): the Graft attribute binary_accuracy_threshold is malformed")
            }
            // And those written before metrics had options no top-k accuracy.
            let topK = try file.file.integerAttribute("top_k_accuracy_k", of: graft)
            let topKName = try file.file.stringAttribute("top_k_accuracy_name", of: graft)
            guard (topK == nil && topKName == nil) || (topK?.count == 1 && topKName?.count == 1
                                                       && topK![0] >= 1 && topK![0] <= Int32.max) else {
                throw GraftError.format("\(path): the Graft attributes top_k_accuracy_k and top_k_accuracy_name are malformed")
            }
            let loss = CrossEntropy(labelSmoothing: Float(smoothing?.first ?? 0),
                                    binaryThreshold: threshold.map { Float($0[0]) } ?? CrossEntropy.defaultBinaryThreshold)
            try model.compile(try reader.optimizer(), loss: loss,
                              topKAccuracy: topK.map { TopKAccuracy(k: Int($0[0]), name: topKName![0]) })
            try model.readOptimizerState(file, reader: reader)
        }
        if let calibration = try reader.calibration(layers: Set(model.base.base.layers.map(\.name))) {
            model.base.restoreCalibration(calibration)
        }
        try model.setPrecision(precision)
        return model
    }

    /// A file of format 1 (before Keras's full-model layout): the model
    /// from the /graft attributes, every layer's weights in a group at the root.
    private static func firstFormatModel(_ file: KerasWeightFile, _ reader: AttributeReader, seed: UInt64, threads: Int) throws
        -> TransferModel {
        var options = ModelOptions()
        options.architecture = try reader.choice("architecture", ResNetArchitecture.self)
        let size = try reader.integers("input_size", count: 2)
        (options.inputHeight, options.inputWidth) = (Int(size[0]), Int(size[1]))
        options.preprocessing = try reader.choice("preprocessing", Preprocessing.self)
        options.weights = .file(file.path)
        options.threads = threads
        let base = try Model(options)

        var head = HeadOptions(numClasses: 0)
        head.pooling = try reader.choice("head_pooling", HeadOptions.Pooling.self)
        head.hiddenUnits = try reader.integers("head_hidden_units").map { Int($0) }
        head.dropout = Float(try reader.doubles("head_dropout", count: 1)[0])
        // AugmentationSpec's text (older files: "none" or a flip's mode).
        let augmentation = try AugmentationSpec.parse(try reader.string("augmentation"))
        let layerNames = file.layerNames
        guard let output = layerNames.last, let kernel = try file.weightShapes(of: output).first,
              kernel.shape.count == 2 else {
            throw GraftError.format("\(file.path): the last layer is not the head's output Dense")
        }
        head.numClasses = kernel.shape[1]
        try head.requireFits(on: base.base, file: file.path)
        let model = try TransferModel(base: base, head: head, augmentation: augmentation, seed: seed)
        guard model.layers.map(\.name) == layerNames else {
            throw GraftError.format("\(file.path): the stored layers are not those of the model its attributes describe")
        }
        try model.readHeadWeights(file)
        return model
    }

    // MARK: - Writing

    private func writeGraftAttributes(_ writer: HDF5Writer) throws {
        let g = Self.graftGroup
        try writer.createGroup(g)
        try writer.writeAttribute("format_version", integers: [Self.fileFormatVersion], of: g)
        try writer.writeAttribute("architecture", strings: [base.architecture.rawValue], of: g)
        try writer.writeAttribute("input_size", integers: [Int64(base.base.inputHeight), Int64(base.base.inputWidth)],
                                  of: g)
        try writer.writeAttribute("preprocessing", strings: [base.preprocessing.rawValue], of: g)
        try writer.writeAttribute("head_pooling", strings: [head.pooling.rawValue], of: g)
        try writer.writeAttribute("head_hidden_units", integers: head.hiddenUnits.map { Int64($0) }, of: g)
        try writer.writeAttribute("head_dropout", doubles: [Double(head.dropout)], of: g)
        try writer.writeAttribute("augmentation", strings: [AugmentationSpec.text(augmentation)], of: g)
        try writer.writeAttribute("seed", integers: [Int64(bitPattern: seed)], of: g)
        try writer.writeAttribute("trainable", integers: layers.map { $0.trainable ? 1 : 0 }, of: g)
        if let classNames { try writer.writeAttribute("class_names", strings: classNames, of: g) }
        if let ranges = base.calibration?.ranges.sorted(by: { $0.key < $1.key }) {
            try writer.writeAttribute("calibration_layers", strings: ranges.map(\.key), of: g)
            try writer.writeAttribute("calibration_ranges", doubles: ranges.map { Double($0.value) }, of: g)
        }
        if let config = optimizer?.config {
            try writer.writeAttribute("label_smoothing", doubles: [Double(loss.labelSmoothing)], of: g)
            if head.isBinary {
                try writer.writeAttribute("binary_accuracy_threshold", doubles: [Double(loss.binaryThreshold)], of: g)
            }
            if let topKAccuracy {
                try writer.writeAttribute("top_k_accuracy_k", integers: [Int64(topKAccuracy.k)], of: g)
                try writer.writeAttribute("top_k_accuracy_name", strings: [topKAccuracy.name], of: g)
            }
            try writer.writeAttribute("optimizer", strings: [config.name.rawValue], of: g)
            try writeFields(config.fields, as: "optimizer", writer)
            if case .schedule(let schedule) = config.learningRate {
                try writer.writeAttribute("learning_rate_schedule", strings: [schedule.className], of: g)
                try writeFields(schedule.fields, as: "learning_rate_schedule", writer)
            }
        }
    }

    /// The group of the optimizer's slots, as Keras's legacy files hold it.
    private static let optimizerGroup = "/optimizer_weights"

    /// Keras's name of slot `slot` of `layer`'s weight `weight`
    /// ("adam/conv1_conv_kernel_momentum"): the optimizer's snake-case name,
    /// then the weight's path with "_" for "/".
    private static func slotPath(_ optimizer: OptimizerConfig.Name, _ layer: Layer, _ weight: Int, _ slot: String) -> String {
        let prefix: String
        switch optimizer {
        case .sgd: prefix = "sgd"
        case .adam: prefix = "adam"
        case .adamw: prefix = "adam_w"
        case .rmsprop: prefix = "rm_sprop"
        }
        return "\(prefix)/\(layer.name)_\(layer.weightNames[weight])_\(slot)"
    }

    /// The optimizer's state, so that a loaded model goes on training as
    /// this one would: its step count and the fit's (which seeds Dropout)
    /// as attributes, and every slot (moments) in Keras's layout, a group
    /// `optimizer_weights` whose `weight_names` lists them.
    private func writeOptimizerState(_ writer: HDF5Writer) throws {
        guard let optimizer else { return }
        try writer.writeAttribute("optimizer_iterations", integers: [Int64(optimizer.iterations)], of: Self.graftGroup)
        try writer.writeAttribute("training_steps", integers: [Int64(training.steps)], of: Self.graftGroup)
        var saved: [(path: String, tensor: Tensor)] = []
        for layer in layers {
            for (w, weight) in layer.weights.enumerated() {
                guard let slots = optimizer.slots(of: weight) else { continue }
                for (name, slot) in zip(optimizer.slotNames, slots) {
                    saved.append((Self.slotPath(optimizer.config.name, layer, w, name), slot))
                }
            }
        }
        guard !saved.isEmpty else { return }
        try writer.createGroup(Self.optimizerGroup)
        try writer.writeAttribute("weight_names", strings: saved.map(\.path), of: Self.optimizerGroup)
        var groups = Set<String>()
        for (path, tensor) in saved {
            let group = Self.optimizerGroup + "/" + path.prefix { $0 != "/" }
            if groups.insert(group).inserted { try writer.createGroup(group) }
            try writer.writeDataset(Self.optimizerGroup + "/" + path, shape: tensor.shape, values: tensor.data)
        }
    }

    /// The state `writeOptimizerState` wrote, into the optimizer just
    /// compiled; a file without it (written before optimizers kept their
    /// state) leaves the optimizer fresh.
    fileprivate func readOptimizerState(_ file: KerasWeightFile, reader: AttributeReader) throws {
        guard let optimizer, let iterations = try file.file.integerAttribute("optimizer_iterations", of: Self.graftGroup)
        else { return }
        let steps = try reader.integers("training_steps", count: 1)[0]
        guard iterations.count == 1, iterations[0] >= 0, steps >= 0 else {
            throw GraftError.format("\(file.file.path): the saved optimizer state is malformed")
        }
        let names = file.file.exists(Self.optimizerGroup)
            ? Set(try file.file.stringAttribute("weight_names", of: Self.optimizerGroup) ?? []) : []
        var saved: [(weight: Tensor, slots: [Tensor])] = []
        for layer in layers {
            for (w, weight) in layer.weights.enumerated() {
                let paths = optimizer.slotNames.map { Self.slotPath(optimizer.config.name, layer, w, $0) }
                let present = paths.filter(names.contains)
                guard !present.isEmpty else { continue }
                guard present.count == paths.count else {
                    throw GraftError.format("\(file.file.path): the optimizer's slots of \(layer.name) are incomplete")
                }
                let slots = try paths.map { path -> Tensor in
                    let slot = Tensor(shape: weight.shape)
                    try file.file.readFloats(Self.optimizerGroup + "/" + path, into: slot.data, count: slot.count)
                    return slot
                }
                saved.append((weight, slots))
            }
        }
        try optimizer.restore(iterations: Int(iterations[0]), slots: saved)
        training.steps = Int(steps)
    }

    /// `fields` as two attributes: `<prefix>_option_names` and `<prefix>_options`.
    private func writeFields(_ fields: Fields, as prefix: String, _ writer: HDF5Writer) throws {
        try writer.writeAttribute(prefix + "_option_names", strings: fields.map(\.name), of: Self.graftGroup)
        try writer.writeAttribute(prefix + "_options", doubles: fields.map(\.value), of: Self.graftGroup)
    }

    // MARK: - Reading

    /// The head's weights (the base's were read when the base was built).
    private func readHeadWeights(_ file: KerasWeightFile) throws {
        applyStaged(try stagedWeights(file, of: layers[baseLayerCount...]))
    }
}

/// Typed reads of /graft's attributes, each failing with a message that
/// names the attribute.
fileprivate struct AttributeReader {
    let file: HDF5File
    let group: String

    private func missing(_ name: String) -> GraftError {
        GraftError.format("\(file.path): the Graft attribute \(name) is missing or malformed")
    }

    func string(_ name: String) throws -> String {
        guard let values = try file.stringAttribute(name, of: group), values.count == 1 else { throw missing(name) }
        return values[0]
    }

    func choice<T: RawRepresentable>(_ name: String, _: T.Type) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: try string(name)) else { throw missing(name) }
        return value
    }

    func integers(_ name: String, count: Int? = nil) throws -> [Int64] {
        guard let values = try file.integerAttribute(name, of: group), count == nil || values.count == count else {
            throw missing(name)
        }
        return values
    }

    func doubles(_ name: String, count: Int) throws -> [Double] {
        guard let values = try file.doubleAttribute(name, of: group), values.count == count else { throw missing(name) }
        return values
    }

    /// `<prefix>_option_names` paired with `<prefix>_options`; files
    /// without the names hold `unnamed`'s.
    func fields(_ prefix: String, unnamed: [String]? = nil) throws -> Fields {
        let names = try file.stringAttribute(prefix + "_option_names", of: group) ?? unnamed
        guard let names else { throw missing(prefix + "_option_names") }
        return Array(zip(names, try doubles(prefix + "_options", count: names.count)))
    }

    /// The saved calibration, if there is one: ranges of base layers,
    /// positive and finite, one per layer.
    func calibration(layers: Set<String>) throws -> Calibration? {
        guard let names = try file.stringAttribute("calibration_layers", of: group) else { return nil }
        let ranges = try doubles("calibration_ranges", count: names.count)
        guard Set(names).count == names.count, names.allSatisfy(layers.contains),
              ranges.allSatisfy({ $0 > 0 && Float($0).isFinite }) else {
            throw missing("calibration_layers")
        }
        return Calibration(ranges: Dictionary(uniqueKeysWithValues: zip(names, ranges.map { Float($0) })))
    }

    /// The saved optimizer, its schedule if it has one.
    func optimizer() throws -> OptimizerConfig {
        let name = try choice("optimizer", OptimizerConfig.Name.self)
        var schedule: LearningRateSchedule?
        do {
            if let className = try file.stringAttribute("learning_rate_schedule", of: group)?.first {
                schedule = try LearningRateSchedule(className: className, fields: try fields("learning_rate_schedule"))
            }
            return try OptimizerConfig(name: name, fields: try fields("optimizer", unnamed: TransferModel.firstOptimizerFields),
                                       schedule: schedule)
        } catch let error as GraftError where error.kind == .invalidArgument {
            throw GraftError.format("\(file.path): the saved optimizer is malformed: \(error.message)")
        }
    }
}
