import GraftFoundation

/// The loss training minimises: Keras's cross-entropy from the head's
/// logits, the mean over the batch: SparseCategoricalCrossentropy(
/// from_logits=True) on class indices, or CategoricalCrossentropy(
/// from_logits=True, label_smoothing=ε) on one-hot labels (which carry the
/// same classes). Class weights, given to fit, scale each image's term.
public struct CrossEntropy: Equatable {
    /// Keras's label_smoothing: the target is (1 − ε)·one-hot + ε/classes.
    public var labelSmoothing: Float

    public init(labelSmoothing: Float = 0) {
        self.labelSmoothing = labelSmoothing
    }

    public func validate() throws {
        guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
            throw GraftError.invalidArgument("label_smoothing must be in [0, 1], not \(labelSmoothing)")
        }
    }
}
