import GraftData
import GraftModel

/// A ResNet base under a new classification head (global average pooling or
/// Flatten, optional hidden Dense/ReLU layers and Dropout, then Dense
/// logits), trained as Keras's transfer-learning guide trains it: the base
/// frozen first, then fine-tuned. BatchNormalization stays in inference mode
/// throughout, as Keras's `base(x, training=False)`.
///
/// Use a model from one thread at a time; different models may be used from
/// different threads at once.
public final class TransferModel {
    /// How the base's feature map becomes a vector.
    public enum Pooling: String, Sendable {
        /// GlobalAveragePooling2D.
        case average = "avg"
        /// Flatten.
        case flatten
    }

    let core: GraftModel.TransferModel

    private init(_ core: GraftModel.TransferModel) {
        self.core = core
    }

    /// A new head of `numClasses` logits on `base`, its weights drawn with
    /// `seed`; `numClasses` 1 is Keras's binary classifier (one logit).
    /// `augmentation`: Keras's augmentation layers applied to training
    /// images, as `graft train --augmentation` takes them
    /// ("flip:horizontal,rotation:0.1,zoom:0.2"; "horizontal_and_vertical" is
    /// that RandomFlip alone; "none" by default).
    public convenience init(base: ResNetBase, numClasses: Int, hiddenUnits: [Int] = [], dropout: Float = 0,
                            pooling: Pooling = .average, augmentation: String = "none", seed: UInt64 = 0) throws {
        var head = HeadOptions(numClasses: numClasses)
        head.hiddenUnits = hiddenUnits
        head.dropout = dropout
        head.pooling = HeadOptions.Pooling(rawValue: pooling.rawValue)!
        self.init(try GraftModel.TransferModel(base: base.core, head: head,
                                               augmentation: try AugmentationSpec.parse(augmentation),
                                               seed: seed))
    }

    /// A model saved by `save(to:)`, `graft train` or `graft_model_save`, ready
    /// to predict, evaluate or train on. `threads` 0 uses every core.
    public static func load(from path: String, threads: Int = 0) throws -> TransferModel {
        TransferModel(try GraftModel.TransferModel.load(from: path, threads: threads))
    }

    /// Writes the model (architecture, weights, class names, optimizer) to an
    /// HDF5 file that `load(from:)` reads and Keras can load weights from.
    public func save(to path: String) throws {
        try core.save(to: path)
    }

    /// The class names adopted from the training data (nil before a fit).
    public var classNames: [String]? { core.classNames }

    /// How many layers the base has: the head's follow them.
    public var baseLayerCount: Int { core.baseLayerCount }

    /// Whether the base's layers train (Keras's `base.trainable = ...`); the
    /// head always does. Takes effect at the next `compile`.
    public func setBaseTrainable(_ trainable: Bool) {
        core.setBaseTrainable(trainable)
    }

    /// Whether layer `index` trains (negative counts from the end), as Keras's
    /// `model.layers[index].trainable = ...`.
    public func setTrainable(_ trainable: Bool, layer index: Int) throws {
        try core.setTrainable(trainable, layer: index)
    }

    /// Sets the optimizer, with fresh state (as Keras's `compile`), and the
    /// sparse categorical cross-entropy loss on logits with accuracy (for
    /// the binary head, binary cross-entropy on its logit, with Keras's
    /// BinaryAccuracy at its default threshold of 0.5 on the logit).
    public func compile(optimizer: Optimizer) throws {
        try core.compile(optimizer.config)
    }

    /// Trains for `epochs` epochs, as Keras's `fit`: the frozen base's features
    /// are computed once and reused; `progress` is called after every batch
    /// and at every epoch's end.
    @discardableResult
    public func fit(_ data: ImageDataset, epochs: Int, validationData: ImageDataset? = nil,
                    progress: ((FitProgress) -> Void)? = nil) throws -> History {
        History(try core.fit(data.core, epochs: epochs, validation: validationData?.core,
                             progress: progress.map { report in { report(FitProgress($0)); return false } }))
    }

    /// Mean loss and accuracy over `data`, as Keras's `evaluate`.
    public func evaluate(_ data: ImageDataset) throws -> (loss: Double, accuracy: Double) {
        try core.evaluate(data.core)
    }

    /// The outputs for RGB images with pixel values 0...255 (NHWC, the
    /// base's input size), one row per image, as Keras's `predict`: logits,
    /// or probabilities for a model read from Keras with softmax or sigmoid
    /// on its output Dense.
    public func predict(images: [Float]) throws -> [[Float]] {
        let size = ImageSize(height: core.base.base.inputHeight, width: core.base.base.inputWidth)
        let imageFloats = size.height * size.width * 3
        guard !images.isEmpty && images.count % imageFloats == 0 else {
            throw GraftError.invalidArgument("\(images.count) values are not whole images of \(size.height)x\(size.width)x3")
        }
        let (count, classes) = (images.count / imageFloats, core.head.numClasses)
        var logits = [Float](repeating: 0, count: count * classes)
        try logits.withUnsafeMutableBufferPointer { try core.predict(images: images, count: count, outputs: $0.baseAddress!) }
        return (0..<count).map { Array(logits[$0 * classes..<($0 + 1) * classes]) }
    }
}
