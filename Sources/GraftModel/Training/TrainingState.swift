import GraftFoundation
import GraftKernels

/// What fit keeps from one batch to the next: the training steps compiled
/// for the current trainability and the sizes of the batch's parts (their
/// fusions, and one pool of buffers they share), the sums of a split batch's
/// gradients, and the count of steps taken, which seeds Dropout.
final class TrainingState {
    var steps = 0
    /// Steps compiled for the part sizes in use, by size.
    private var compiled: [Int: TrainingStep] = [:]
    private var pool = TensorPool()
    /// The engine's micro-batch size for the current trainability.
    private var defaultPartSize: Int?
    private(set) var gradientSums = GradientSums()

    /// Bytes of activations a part of a batch may keep for its backward
    /// pass: the engine's micro-batch size is as many images as fit in it.
    static let activationBudget = 1 << 30

    /// The parts a batch of `size` images runs in: the whole batch when it
    /// is no larger than the micro-batch size (`microBatchSize`, or the
    /// engine's from the activations each image keeps), else equal parts
    /// where a divisor of the batch near that size allows (so that one
    /// compiled step serves them all), near-equal ones otherwise.
    func parts(of size: Int, network: Network, microBatchSize: Int?) -> [Range<Int>] {
        let limit = microBatchSize ?? engineMicroBatchSize(network)
        let parts = MicroBatch.split(size, atMost: limit)
        // A new set of part sizes (a batch of another size, as an epoch's
        // last one can be) gets steps and buffers of its own.
        if Set(parts.map(\.count)) != Set(compiled.keys) {
            compiled = [:]
            pool = TensorPool()
        }
        return parts
    }

    /// The step for a part of `batch` images, compiled once per
    /// trainability and size.
    func step(for network: Network, batch: Int, resumeAfter: Int?, threads: Int,
              winogradTile: WinogradTile?) throws -> TrainingStep {
        if let step = compiled[batch], step.winogradTile == winogradTile, step.plan.resumeAfter == resumeAfter {
            return step
        }
        let step = try TrainingStep(network: network, batch: batch, threads: threads, pool: pool,
                                    winogradTile: winogradTile, resumeAfter: resumeAfter)
        compiled[batch] = step
        return step
    }

    func stepTaken() { steps += 1 }

    /// Trainability or weights changed: nothing compiled or summed applies.
    func invalidate() {
        compiled = [:]
        pool = TensorPool()
        defaultPartSize = nil
        gradientSums = GradientSums()
    }

    /// As many images as keep at most `activationBudget` bytes of the
    /// layers that train (and those after them), decided once per
    /// trainability.
    private func engineMicroBatchSize(_ network: Network) -> Int {
        if let defaultPartSize { return defaultPartSize }
        let start = network.firstTrainable ?? 0
        let floats = network.layers[start...].reduce(0) { $0 + $1.outputShape.reduce(1, *) }
        let size = max(1, TrainingState.activationBudget / max(1, floats * MemoryLayout<Float>.size))
        defaultPartSize = size
        return size
    }

}

/// How a batch is cut into micro-batches.
public enum MicroBatch {
    /// `size` images in parts of at most `limit`: equal parts of the largest
    /// divisor of `size` from limit/2 to `limit`, else the fewest parts,
    /// their sizes differing by one at most.
    public static func split(_ size: Int, atMost limit: Int) -> [Range<Int>] {
        let limit = max(1, limit)
        guard size > limit else { return [0..<size] }
        if let equal = stride(from: limit, through: max(1, (limit + 1) / 2), by: -1).first(where: { size % $0 == 0 }) {
            return stride(from: 0, to: size, by: equal).map { $0..<($0 + equal) }
        }
        let count = (size + limit - 1) / limit, smaller = size / count, larger = size % count
        var start = 0
        return (0..<count).map { k in
            let length = smaller + (k < larger ? 1 : 0)
            defer { start += length }
            return start..<(start + length)
        }
    }
}

/// The gradients of a split batch's parts summed, one buffer per trainable
/// weight in the order the backward pass hands them over, kept from batch to
/// batch. A convolution's kernel gradient is summed in place by its own
/// backward pass (`target`), the rest added here (`add`). In a group of
/// processes, the last part's sums go to the group's as each layer's are
/// done (`layerDone`).
final class GradientSums {
    private(set) var pairs: [(weight: Tensor, gradient: Tensor)] = []
    private var next = 0
    /// Sums handed to `reduction` so far in this part.
    private var reported = 0
    /// Whether the part being summed is its batch's first: its gradients
    /// are written, not added.
    private(set) var isFirstPart = true
    /// Where the sums go once final (the batch's last part), or nil.
    private var reduction: GradientReduction?

    /// A part's gradients follow; `reduction`: they are the last, to be
    /// summed over the group as they are done.
    func startPart(first: Bool, reduction: GradientReduction? = nil) {
        next = 0
        reported = 0
        isFirstPart = first
        self.reduction = reduction
    }

    /// The backward pass is done with a layer: its sums are final.
    func layerDone() {
        guard let reduction, reported < next else { return }
        reduction.add(pairs[reported..<next].map(\.gradient))
        reported = next
    }

    /// Zero sums for `weights`, in the backward pass's order: the share of
    /// a process with no image in the batch (or whose loss was not finite).
    func zero(_ weights: [Tensor]) {
        if pairs.count != weights.count || !zip(pairs, weights).allSatisfy({ $0.weight === $1 }) {
            pairs = weights.map { ($0, Tensor(shape: $0.shape)) }
        }
        for pair in pairs { pair.gradient.data.update(repeating: 0, count: pair.gradient.count) }
    }

    /// The sum for `weight`, the next weight in the backward pass's order,
    /// for a kernel to write (first part) or add to (later parts) itself.
    func target(for weight: Tensor) -> Tensor {
        if next == pairs.count { pairs.append((weight, Tensor(shape: weight.shape))) }
        precondition(pairs[next].weight === weight, "the backward pass handed its gradients in another order")
        next += 1
        return pairs[next - 1].gradient
    }

    /// Adds one layer's gradients, computed into buffers of their own.
    func add(_ gradients: [(weight: Tensor, gradient: Tensor)], threads: Int) {
        for (weight, gradient) in gradients {
            let sum = target(for: weight).data, part = gradient.data, copy = isFirstPart
            Parallel.forRanges(gradient.count, threads: threads) { r, _ in
                if copy {
                    (sum + r.lowerBound).update(from: part + r.lowerBound, count: r.count)
                } else {
                    for k in r { sum[k] += part[k] }
                }
            }
        }
    }
}
