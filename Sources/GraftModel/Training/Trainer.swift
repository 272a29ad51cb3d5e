import Dispatch
import GraftData
import GraftFoundation
import GraftKernels

/// What fit keeps from one batch to the next: the training step compiled
/// for the current trainability and batch size (its fusions and its buffer
/// pool), and the count of steps taken, which seeds Dropout.
final class TrainingState {
    private(set) var steps = 0
    private var compiled: (batch: Int, step: TrainingStep)?

    /// The step for `batch` images, compiled once per trainability and
    /// batch size.
    func step(for network: Network, batch: Int, threads: Int) throws -> TrainingStep {
        if let compiled, compiled.batch == batch { return compiled.step }
        let step = try TrainingStep(network: network, threads: threads, pool: TensorPool())
        compiled = (batch, step)
        return step
    }

    func stepTaken() { steps += 1 }

    /// Trainability changed: the compiled step no longer applies.
    func invalidate() { compiled = nil }
}

extension TransferModel {
    /// Trains for `epochs` passes over `train`, evaluating on `validation`
    /// after each. `progress` is called after each batch and at the end of
    /// each epoch; returning true stops there (the history then holds the
    /// completed epochs and `stopped` is set).
    public func fit(_ train: ImageDataset, epochs: Int, validation: ImageDataset? = nil,
                    progress: ((TrainingProgress) -> Bool)? = nil) throws -> History {
        guard let optimizer else {
            throw GraftError(.state, "the model is not compiled: call compile with an optimizer before fit")
        }
        guard epochs >= 1 else { throw GraftError.invalidArgument("epochs must be at least 1, not \(epochs)") }
        // The training folders name the classes if nothing has yet; the
        // validation folders must then have the same.
        let names = classNames ?? (train.isFromDirectory ? train.classNames : nil)
        try checkDataset(train, role: "training", classNames: names)
        if let validation { try checkDataset(validation, role: "validation", classNames: names) }
        guard network.firstTrainable != nil else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before fit")
        }
        try setClassNames(names)
        var history = History()
        let started = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        for epoch in 0..<epochs {
            var seen = 0, correct = 0, lossSum = 0.0
            let iterator = train.makeIterator(skip: frozenPrefix.alreadyCached(train, epoch: epoch))
            var step = 0
            while let batch = try iterator.next() {
                let result = try trainOnBatch(batch, of: train, epoch: epoch, optimizer: optimizer)
                seen += batch.count
                correct += result.correct
                lossSum += result.loss * Double(batch.count)
                step += 1
                let report = TrainingProgress(
                    epoch: epoch, epochs: epochs, step: step, steps: train.batchCount,
                    loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                    elapsedSeconds: elapsed())
                if progress?(report) == true {
                    history.stopped = true
                    return history
                }
            }
            history.loss.append(lossSum / Double(max(seen, 1)))
            history.accuracy.append(Double(correct) / Double(max(seen, 1)))
            var report = TrainingProgress(
                epoch: epoch, epochs: epochs, step: step, steps: train.batchCount, loss: history.loss[epoch],
                accuracy: history.accuracy[epoch], elapsedSeconds: 0, epochEnd: true)
            if let validation {
                let (loss, accuracy) = try evaluate(validation)
                history.valLoss.append(loss)
                history.valAccuracy.append(accuracy)
                (report.valLoss, report.valAccuracy) = (loss, accuracy)
            }
            report.elapsedSeconds = elapsed()
            if progress?(report) == true {
                history.stopped = true
                return history
            }
        }
        return history
    }

    /// Refuses a dataset that does not fit the model: image size, class
    /// count, and (for folders) class names other than `classNames`.
    func checkDataset(_ d: ImageDataset, role: String, classNames: [String]?) throws {
        guard d.imageHeight == base.base.inputHeight && d.imageWidth == base.base.inputWidth else {
            throw GraftError.invalidArgument(
                "the \(role) images are \(d.imageHeight)x\(d.imageWidth), the model takes \(base.base.inputHeight)x\(base.base.inputWidth)")
        }
        guard d.classNames.count == head.numClasses else {
            throw GraftError.invalidArgument(
                "the \(role) dataset has \(d.classNames.count) classes, the model's head has \(head.numClasses)")
        }
        guard d.count >= 1 else { throw GraftError.invalidArgument("the \(role) dataset is empty") }
        if let classNames, d.isFromDirectory, d.classNames != classNames {
            throw GraftError.invalidArgument(
                "the \(role) dataset's classes \(d.classNames) are not the model's \(classNames)")
        }
    }

    /// One optimizer step on a batch; the weights change only if the loss is finite.
    private func trainOnBatch(_ batch: Batch, of dataset: ImageDataset, epoch: Int,
                              optimizer: Optimizer) throws -> (loss: Double, correct: Int) {
        let variants = batch.indices.map { flip?.variant(epoch: epoch, index: $0) ?? .identity }
        let step = try training.step(for: network, batch: batch.count, threads: base.threads)
        step.profile = profile
        let dropoutSeed = seed &+ UInt64(training.steps) &* SeedSalt.dropoutStep
        let pass: (activations: TrainingStep.Activations, loss: Double, correct: Int, dLogits: Tensor)
        if let boundary = frozenPrefix.cacheBoundary {
            let features = try frozenPrefix.features(batch, of: dataset, variants: variants, profile: profile)
            pass = try step.forwardWithLoss(nil, resume: (boundary, features), labels: batch.labels,
                                            batch: batch.count, dropoutSeed: dropoutSeed)
        } else {
            let input = frozenPrefix.preprocessed(batch, of: dataset, variants: variants)
            if let (boundary, plan) = try frozenPrefix.compiled(capacity: batch.count) {
                // The frozen prefix runs compiled; training resumes after it.
                let output = Tensor(shape: [batch.count] + layers[boundary].outputShape)
                withExtendedLifetime(input) {
                    plan.run(input: input.data, batch: batch.count, output: output.data, profile: profile)
                }
                pass = try step.forwardWithLoss(nil, resume: (boundary, output), labels: batch.labels,
                                                batch: batch.count, dropoutSeed: dropoutSeed)
            } else {
                pass = try withExtendedLifetime(input) {
                    try step.forwardWithLoss(input.data, labels: batch.labels, batch: batch.count,
                                             dropoutSeed: dropoutSeed)
                }
            }
        }
        guard pass.loss.isFinite else {
            throw GraftError(.numeric, "the loss is \(pass.loss) at epoch \(epoch + 1): training stopped, the weights are those from before this batch")
        }
        // Each layer steps as soon as its gradients are ready, so that those
        // of the whole network never take memory at once.
        optimizer.beginStep()
        _ = step.backward(pass.activations, dLogits: pass.dLogits) { optimizer.update($0, threads: self.base.threads) }
        training.stepTaken()
        trainedOneStep()
        return (pass.loss, pass.correct)
    }
}
