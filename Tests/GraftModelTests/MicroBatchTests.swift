import GraftData
import GraftFoundation
import GraftKernels
import GraftModel
import Testing

// A batch split into micro-batches takes the optimizer step of the whole
// batch: BatchNormalization stays in inference mode, so the parts' gradients
// sum to the batch's, and only the order of those float32 sums differs. The
// bar, 1e-5 of the largest update, is what reordered float32 sums leave
// (a gradient summed in another order moves by a few units in its last
// place); a part weighted wrongly (its mean over the part rather than the
// batch) is off by a factor of the part count.
//
// Conditioned as the comparison needs: one Winograd tiling is forced on
// both runs (each 3x3 convolution otherwise picks its tiling by the size of
// the batch or part, and a ReLU whose input lies at its kink can then fall
// on either side, moving every gradient before it), and Adam's epsilon is
// 1: its first update is lr·g/(|g| + ε), which near g = 0 passes on a
// gradient's absolute rounding at the rate lr/ε; with Keras's 1e-7 the
// reordering's 1e-7 on a gradient summing to nearly 0 moves the weight by up
// to lr, with 1e-3 still past 1e-5 of lr (measured 1.2e-7 on the whole base).
// A weight is stored in float32 after its update, so two weights may also
// differ by the float32 steps of the weight itself (two allowed, as in the
// Keras parity tests): with Adam's updates of 1e-3, a weight near 1 has
// steps of 1.2e-7, more than 1e-5 of the update.

/// The largest amount by which `a` exceeds the bar against `b`: 1e-5 of
/// the largest update plus two float32 steps of the weight; ≤ 0 passes.
private func excess(_ a: [[Float]], _ b: [[Float]], largestUpdate: Float) -> Float {
    zip(a.joined(), b.joined()).map { x, y in
        abs(x - y) - (1e-5 * largestUpdate + 2 * max(abs(x), abs(y)).ulp)
    }.max()!
}

private func largestUpdate(_ run: (before: [[Float]], after: [[Float]], loss: Double)) -> Float {
    zip(run.after.joined(), run.before.joined()).map { abs($0 - $1) }.max()!
}

private enum Trained: CaseIterable { case wholeBase, lastBlock, headAlone }

/// The weights after one epoch of one batch of `count` images, in parts of
/// at most `microBatchSize` (nil: the whole batch at once), and before it.
private func weightsAfterOneStep(_ trained: Trained, optimizer: OptimizerConfig, count: Int, dropout: Float = 0,
                                 microBatchSize: Int?) throws -> (before: [[Float]], after: [[Float]], loss: Double) {
    let model = try transferModel(hidden: dropout > 0 ? [8] : [], dropout: dropout)
    switch trained {
    case .wholeBase: model.setBaseTrainable(true)
    case .lastBlock:
        model.setBaseTrainable(true)
        for i in 0..<(model.baseLayerCount - 10) { try model.setTrainable(false, layer: i) }
    case .headAlone: model.setBaseTrainable(false)
    }
    try model.setMicroBatchSize(microBatchSize ?? count)
    model.winogradTile = .f2x2
    try model.compile(optimizer)
    let before = allWeights(model)
    let history = try model.fit(try colourDataset(count: count, seed: 3, batchSize: count), epochs: 1)
    return (before, allWeights(model), history.loss[0])
}

@Test("a batch in micro-batches takes the whole batch's step: whole base, last block, head; SGD and Adam",
      arguments: [(Trained.wholeBase, "adam", [8, 32]), (.wholeBase, "sgd", [16]),
                  (.lastBlock, "adam", [8, 16, 32]), (.lastBlock, "sgd", [16]),
                  (.headAlone, "sgd", [8, 16, 32]), (.headAlone, "adam", [16])])
private func microBatchesTakeTheWholeStep(trained: Trained, optimizer: String, sizes: [Int]) throws {
    let config: OptimizerConfig = optimizer == "adam" ? .adam(learningRate: 1e-3, epsilon: 1)
                                                      : .sgd(learningRate: 0.1, momentum: 0.9)
    let whole = try weightsAfterOneStep(trained, optimizer: config, count: 64, microBatchSize: nil)
    let update = largestUpdate(whole)
    #expect(update > 0)
    for size in sizes {
        let split = try weightsAfterOneStep(trained, optimizer: config, count: 64, microBatchSize: size)
        let over = excess(split.after, whole.after, largestUpdate: update)
        #expect(over <= 0, "parts of \(size): weights past the bar by \(over) (largest update \(update))")
        #expect(abs(split.loss - whole.loss) <= 1e-6 * whole.loss, "parts of \(size): loss \(split.loss) against \(whole.loss)")
    }
}

@Test("parts of unequal sizes, and Dropout drawing the whole batch's masks, take the whole batch's step")
func unequalPartsAndDropout() throws {
    // 62 images in parts of at most 20: no divisor of 62 from 10 to 20, so
    // four parts of 16, 16, 15 and 15; the head has Dropout.
    let adam = OptimizerConfig.adam(learningRate: 1e-3, epsilon: 1)
    let whole = try weightsAfterOneStep(.lastBlock, optimizer: adam, count: 62, dropout: 0.3, microBatchSize: nil)
    let split = try weightsAfterOneStep(.lastBlock, optimizer: adam, count: 62, dropout: 0.3, microBatchSize: 20)
    let over = excess(split.after, whole.after, largestUpdate: largestUpdate(whole))
    #expect(over <= 0, "weights past the bar by \(over)")
}

@Test("how a batch is cut: equal parts where a divisor allows, else near-equal ones")
func batchParts() {
    func sizes(_ batch: Int, _ limit: Int) -> [Int] { MicroBatch.split(batch, atMost: limit).map(\.count) }
    #expect(sizes(32, 32) == [32])
    #expect(sizes(256, 32) == Array(repeating: 32, count: 8))
    #expect(sizes(256, 46) == Array(repeating: 32, count: 8))
    #expect(sizes(220, 46) == Array(repeating: 44, count: 5))
    #expect(sizes(62, 20) == [16, 16, 15, 15])
    #expect(sizes(7, 1) == Array(repeating: 1, count: 7))
}
