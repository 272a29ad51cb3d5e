import GraftModel
import Testing

// Keras's top-k accuracy count, on logits made to sit at its edges. Its
// agreement with Keras's own metric on a model's logits is checked from
// Python (bindings/python/tests/test_top_k.py).

@Test("top-k hits: ties at the k-th place count as tf.math.in_top_k counts them; a non-finite row misses")
func topKHits() {
    let logits: [Float] = [
        3, 2, 1, 0,       // label 1: one logit above it
        1, 1, 1, 1,       // label 3: all tied, none above
        0, 5, 5, 5,       // label 0: three above
        2, 2, 3, 1,       // label 0: one above, tied with class 1
        .nan, 0, 1, 2,    // label 3: a NaN in the row
        .infinity, 0, 1, 2,
    ]
    let labels: [Int32] = [1, 3, 0, 0, 3, 3]
    func hits(_ k: Int) -> Int { TopKAccuracy(k: k).hits(logits: logits, labels: labels, batch: 6, classes: 4) }
    #expect(hits(1) == 1)   // the all-tied row only
    #expect(hits(2) == 3)   // and the rows with one logit above
    #expect(hits(3) == 3)
    #expect(hits(4) == 4)   // every finite row
    #expect(hits(9) == 4)
}

@Test("top-k accuracy options Keras would not take are refused")
func topKValidation() {
    #expect(throws: Never.self) { try TopKAccuracy().validate() }
    #expect(TopKAccuracy().name == "sparse_top_k_categorical_accuracy" && TopKAccuracy().k == 5)
    for bad in [TopKAccuracy(k: 0), TopKAccuracy(name: ""), TopKAccuracy(name: "loss"), TopKAccuracy(name: "val_top")] {
        #expect(throws: (any Error).self) { try bad.validate() }
    }
}
