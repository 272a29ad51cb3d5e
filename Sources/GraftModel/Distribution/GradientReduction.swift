import GraftKernels

/// The sum of a batch's gradients over the processes of a group, started
/// layer by layer while the backward pass goes on (as PyTorch's DDP and
/// Horovod do): a layer's gradients leave as soon as its backward pass has
/// written them. Small gradients (BatchNormalization's, a Dense bias) travel
/// together in buckets of at least `bucketFloats` floats, so that the sum is not
/// one round trip per vector; large ones travel in place.
final class GradientReduction {
    private let group: ProcessGroup
    private var inFlight: [ProcessGroup.Collective] = []
    /// Small gradients waiting for their bucket to fill.
    private var waiting: [Tensor] = []
    private var waitingFloats = 0
    /// Buckets sent, and the gradients each is copied back to.
    private var buckets: [(bucket: Tensor, gradients: [Tensor])] = []
    /// A failure while the backward pass ran, thrown by `finish`.
    private var failure: Error?

    /// Floats of a bucket: large enough that a bucket's latency is small
    /// against its transfer, small enough to leave early.
    private static let bucketFloats = 1 << 18

    init(group: ProcessGroup) {
        self.group = group
    }

    /// `gradients` are final in this process: starts their sum.
    func add(_ gradients: [Tensor]) {
        guard failure == nil else { return }
        do {
            for gradient in gradients {
                if gradient.count >= Self.bucketFloats {
                    inFlight.append(try group.startSum(gradient.data, count: gradient.count, what: "the gradients' sum"))
                } else {
                    waiting.append(gradient)
                    waitingFloats += gradient.count
                    if waitingFloats >= Self.bucketFloats { try sendBucket() }
                }
            }
            // MPI moves nonblocking collectives along when it is called.
            for collective in inFlight where !collective.isDone { _ = try group.poll(collective) }
        } catch {
            failure = error
        }
    }

    /// Waits for every sum: the gradients then hold the group's.
    func finish() throws {
        if let failure { throw failure }
        if !waiting.isEmpty { try sendBucket() }
        for collective in inFlight { try group.wait(collective) }
        for (bucket, gradients) in buckets {
            var offset = 0
            for gradient in gradients {
                gradient.data.update(from: bucket.data + offset, count: gradient.count)
                offset += gradient.count
            }
        }
    }

    private func sendBucket() throws {
        let bucket = Tensor(shape: [waitingFloats])
        var offset = 0
        for gradient in waiting {
            (bucket.data + offset).update(from: gradient.data, count: gradient.count)
            offset += gradient.count
        }
        buckets.append((bucket, waiting))
        inFlight.append(try group.startSum(bucket.data, count: bucket.count, what: "the gradients' sum"))
        waiting = []
        waitingFloats = 0
    }
}
