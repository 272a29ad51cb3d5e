import GraftFoundation
import GraftKernels

/// The loss training minimises: Keras's cross-entropy from the head's
/// logits, the mean over the batch. A head of several classes takes
/// SparseCategoricalCrossentropy(from_logits=True) on class indices, or
/// CategoricalCrossentropy(from_logits=True, label_smoothing=ε) on one-hot
/// labels (which carry the same classes); the binary head (one logit) takes
/// BinaryCrossentropy(from_logits=True, label_smoothing=ε) on labels 0 and
/// 1. Class weights, given to fit, scale each image's term.
public struct CrossEntropy: Equatable {
    /// Keras's label_smoothing: the target is (1 − ε)·one-hot + ε/classes
    /// (ε/2 for the binary head).
    public var labelSmoothing: Float
    /// The binary head's accuracy counts an image as class 1 when its logit
    /// is above this: Keras's BinaryAccuracy(threshold=0.5) compares the
    /// model's output with it, and the output is the logit (0 is the
    /// threshold of a probability of one half).
    public var binaryThreshold: Float

    public static let defaultBinaryThreshold: Float = 0.5

    public init(labelSmoothing: Float = 0, binaryThreshold: Float = CrossEntropy.defaultBinaryThreshold) {
        self.labelSmoothing = labelSmoothing
        self.binaryThreshold = binaryThreshold
    }

    public func validate() throws {
        guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
            throw GraftError.invalidArgument("label_smoothing must be in [0, 1], not \(labelSmoothing)")
        }
        guard binaryThreshold.isFinite else {
            throw GraftError.invalidArgument("the binary accuracy's threshold must be finite, not \(binaryThreshold)")
        }
    }

    /// The mean loss of `batch` images' rows of `classes` logits (one: the
    /// binary head) and how many are predicted right (`predictedClass`);
    /// writes the logits' gradient into `dLogits` when given. `meanOver`
    /// and `weights` as `softmaxCrossEntropy`'s.
    func apply(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
               dLogits: UnsafeMutablePointer<Float>?, meanOver: Int? = nil,
               weights: UnsafePointer<Float>? = nil) -> (loss: Double, correct: Int) {
        if classes == 1 {
            return sigmoidCrossEntropy(logits: logits, labels: labels, batch: batch, dLogits: dLogits,
                                       meanOver: meanOver, weights: weights,
                                       labelSmoothing: Double(labelSmoothing), threshold: binaryThreshold)
        }
        return softmaxCrossEntropy(logits: logits, labels: labels, batch: batch, classes: classes, dLogits: dLogits,
                                   meanOver: meanOver, weights: weights, labelSmoothing: Double(labelSmoothing))
    }

    /// The class one image's row of `classes` logits predicts, as accuracy
    /// counts it: the first largest logit (argmax), or for the binary head
    /// 1 when its logit is above `binaryThreshold`.
    func predictedClass(logits row: UnsafePointer<Float>, classes: Int) -> Int {
        if classes == 1 { return row[0] > binaryThreshold ? 1 : 0 }
        return (0..<classes).reduce(0) { row[$1] > row[$0] ? $1 : $0 }
    }
}
