import GraftData
import GraftFoundation
import GraftKernels

/// What fit and evaluate do differently in a group of processes
/// (`ProcessGroup`): every process lists the same data and holds the same
/// weights, takes its shard of each batch (`DataShard`), and the group sums
/// the gradients and the figures, so that every process takes the step and
/// reports the figures one process would with the whole batch.
/// BatchNormalization trains in inference mode, so nothing else is shared.
extension TransferModel {
    /// The group this model's fit and evaluate run in: the process's, if it
    /// has more than one process.
    var distributedGroup: ProcessGroup? {
        guard let group = ProcessGroup.current, group.size > 1 else { return nil }
        return group
    }

    /// Checks, before a distributed fit or evaluation, that every process
    /// has the same data (listing, labels, batch size, first order) and
    /// the same weights: a process whose weights differ from rank 0's takes
    /// rank 0's. The weights are compared once, and again after any process
    /// had its weights set from outside.
    func joinGroup(_ group: ProcessGroup, datasets: [(role: String, dataset: ImageDataset)], pass: Int) throws {
        for (role, dataset) in datasets {
            guard dataset.batchSize >= group.size else {
                throw GraftError.invalidArgument(
                    "batch_size is the global batch, cut into one part per process: \(dataset.batchSize) cannot feed "
                    + "\(group.size) processes (the \(role) dataset)")
            }
            let mine = Self.fingerprint(dataset, pass: pass)
            let all = try group.gather(mine, what: "the comparison of the \(role) datasets")
            if let other = all.firstIndex(where: { $0 != mine }) {
                throw GraftError.invalidArgument(
                    "the \(role) dataset of process \(group.rank) differs from that of process \(other) (files, labels, "
                    + "batch size, seed or shuffle): every process must list the same data")
            }
        }
        guard try group.any(!weightsAgreedInGroup, what: "the decision to compare the weights") else { return }
        let weights = layers.flatMap(\.weights)
        let mine = weights.reduce(into: Fingerprint()) { $0.add($1.data, count: $1.count) }.bytes
        let all = try group.gather(mine, what: "the comparison of the weights")
        if all.contains(where: { $0 != all[0] }) {
            for weight in weights {
                try group.broadcast(weight.data, bytes: weight.count * MemoryLayout<Float>.size,
                                    what: "the broadcast of rank 0's weights")
            }
            weightsChanged()
        }
        weightsAgreedInGroup = true
    }

    /// Whether `flag` holds in any process of `group` (the decision to stop
    /// after a batch or an epoch, made alike by all); `flag` alone without
    /// a group.
    func anyProcess(_ flag: Bool, _ group: ProcessGroup?, what: String) throws -> Bool {
        guard let group else { return flag }
        return try group.any(flag, what: what)
    }

    /// The weights a step trains, in the order the backward pass hands
    /// their gradients over (`GradientSums`): what a process with no image
    /// in a batch contributes zeros for.
    func trainedWeightsInBackwardOrder(resumeAfter: Int?) throws -> [Tensor] {
        let step = try training.step(for: network, batch: 1, resumeAfter: resumeAfter, threads: base.threads,
                                     winogradTile: winogradTile)
        return step.plan.backward.flatMap { op in network.layers[op.layer].weights.prefix(op.trainedWeights) }
    }

    private static func fingerprint(_ dataset: ImageDataset, pass: Int) -> [UInt8] {
        var f = Fingerprint()
        f.add(dataset.count)
        f.add(dataset.batchSize)
        f.add(dataset.classNames.joined(separator: "\n"))
        for path in dataset.filePaths { f.add(path) }
        dataset.labels.withUnsafeBytes { f.add($0) }
        dataset.order(epoch: pass).withUnsafeBytes { f.add($0) }
        return f.bytes
    }
}

/// FNV-1a over what is added: equal data, equal bytes.
private struct Fingerprint {
    private var hash: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    mutating func add(_ value: Int) { withUnsafeBytes(of: value) { add($0) } }
    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { add(UnsafeRawBufferPointer($0)) }
        add(0)
    }
    /// Floats, two at a time (the weights are 100 MB).
    mutating func add(_ floats: UnsafeMutablePointer<Float>, count: Int) {
        UnsafeRawPointer(floats).withMemoryRebound(to: UInt64.self, capacity: count / 2) { words in
            for k in 0..<(count / 2) { hash = (hash ^ words[k]) &* 0x100_0000_01b3 }
        }
        if count % 2 == 1 { hash = (hash ^ UInt64(floats[count - 1].bitPattern)) &* 0x100_0000_01b3 }
    }

    var bytes: [UInt8] { withUnsafeBytes(of: hash.littleEndian) { Array($0) } }
}
