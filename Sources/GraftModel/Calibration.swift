import GraftFoundation
import GraftKernels

/// What int8 inference quantizes activations by: over the calibration
/// images, the largest value of each layer's output, for the layers whose
/// output was never negative there (a ReLU's, a max pooling of one), keyed
/// by layer name. A convolution reading such an output runs in int8, its
/// input's byte 255 being that value; the others (the stem, on
/// preprocessed pixels) stay in float32.
public struct Calibration: Equatable, Sendable {
    public var ranges: [String: Float]

    public init(ranges: [String: Float]) {
        self.ranges = ranges
    }

    /// Gathers the ranges of every output a float32 plan computes, batch by
    /// batch.
    struct Measurement {
        private var largest: [String: Float] = [:]
        private var negative = Set<String>()

        /// Runs `plan` on `count` preprocessed images at `input` (in batches
        /// of its capacity) and takes in every output's extremes.
        mutating func observe(_ plan: InferencePlan, input: UnsafePointer<Float>, count: Int, output: Tensor) {
            var (largest, negative) = (self.largest, self.negative)
            for start in stride(from: 0, to: count, by: plan.capacity) {
                plan.run(input: input + start * plan.inputSize, batch: min(plan.capacity, count - start),
                         output: output.data) { layer, values in
                    // A NaN counts as negative: its layer is not quantized.
                    let (low, high) = extremes(values)
                    if !(low >= 0) { negative.insert(layer) }
                    largest[layer] = max(largest[layer] ?? 0, high)
                }
            }
            (self.largest, self.negative) = (largest, negative)
        }

        var result: Calibration {
            Calibration(ranges: largest.filter { !negative.contains($0.key) && $0.value > 0 && $0.value.isFinite })
        }
    }
}
