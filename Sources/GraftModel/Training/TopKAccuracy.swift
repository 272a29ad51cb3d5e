import GraftFoundation

/// Keras's top-k accuracy metric, reported by fit and evaluate beside
/// accuracy when compiled in: the fraction of images whose class is among
/// the `k` largest logits (SparseTopKCategoricalAccuracy on class indices,
/// TopKCategoricalAccuracy on one-hot labels: the same count under another
/// name). As Keras, it is not weighted by class or sample weights.
public struct TopKAccuracy: Equatable {
    public var k: Int
    /// Its name in the logs and the history ("val_" + name for validation).
    public var name: String

    /// Keras's names and default k.
    public static let sparseName = "sparse_top_k_categorical_accuracy"
    public static let categoricalName = "top_k_categorical_accuracy"
    public static let defaultK = 5

    public init(k: Int = TopKAccuracy.defaultK, name: String = TopKAccuracy.sparseName) {
        (self.k, self.name) = (k, name)
    }

    public func validate() throws {
        guard k >= 1 else { throw GraftError.invalidArgument("the top-k accuracy's k must be at least 1, not \(k)") }
        guard !name.isEmpty, !name.hasPrefix("val_"), !["loss", "accuracy", "learning_rate"].contains(name) else {
            throw GraftError.invalidArgument(
                "the top-k accuracy cannot be named \"\(name)\": the name must be new and not start with val_")
        }
    }

    /// How many of `batch` images have their label among the `k` largest of
    /// their `classes` logits. Ties count as Keras's in_top_k
    /// (tf.math.in_top_k) counts them: an image is a hit when fewer than k
    /// logits are strictly larger than its label's, so classes tied at the
    /// boundary are all in; a row with a logit that is not finite is a miss.
    public func hits(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int) -> Int {
        var hits = 0
        for n in 0..<batch {
            let row = logits + n * classes
            let target = row[Int(labels[n])]
            var larger = 0, finite = true
            for c in 0..<classes {
                finite = finite && row[c].isFinite
                if row[c] > target { larger += 1 }
            }
            if finite && larger < k { hits += 1 }
        }
        return hits
    }
}
