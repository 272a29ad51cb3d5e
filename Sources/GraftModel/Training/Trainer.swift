import Dispatch
import GraftData
import GraftFoundation
import GraftKernels

extension TransferModel {
    /// Trains from epoch `initialEpoch` up to `epochs` (Keras's fit: epoch
    /// indices, so `initialEpoch: 3, epochs: 5` runs epochs 3 and 4, with
    /// their own shuffles and augmentation draws, as a run that never
    /// stopped would), evaluating on `validation` after each. `callbacks` run in their
    /// order at the fit's and each epoch's beginning and end; one may stop
    /// the fit after an epoch (`FitState.stopTraining`). `progress` is
    /// called after each batch and at the end of each epoch; returning true
    /// stops there (the history then holds the completed epochs and
    /// `stopped` is set). `epochs <= initialEpoch` trains nothing.
    ///
    /// `classWeight` (Keras's class_weight) scales the loss of each image of
    /// a class by its weight (1 for a class without one), `sampleWeight`
    /// (Keras's sample_weight, one per image of `train`, in its order) that
    /// of each image; the sum is then divided by the batch size, as Keras
    /// reduces it. Keras takes one of the two at most.
    ///
    /// `stepsPerEpoch` (Keras's steps_per_epoch) makes an epoch that many
    /// batches (`DataSlice`); nil: one pass over `train`.
    ///
    /// In a group of processes (`ProcessGroup.initialize`), each process
    /// trains on its shard of every batch (the batch size is the global
    /// batch, as in Keras's distribution API) and the group sums the
    /// gradients, losses and counts: every process takes the same steps
    /// and reports the same figures, as one process with the whole batch
    /// would. A stop (progress callback, callbacks) in any process stops
    /// all of them after the same batch or epoch.
    public func fit(_ train: ImageDataset, epochs: Int, validation: ImageDataset? = nil, initialEpoch: Int = 0,
                    stepsPerEpoch: Int? = nil, classWeight: [Int: Float]? = nil, sampleWeight: [Float]? = nil,
                    callbacks: [FitCallback] = [], progress: ((TrainingProgress) -> Bool)? = nil) throws -> History {
        guard let optimizer else {
            throw GraftError(.state, "the model is not compiled: call compile with an optimizer before fit")
        }
        guard epochs >= 0 && initialEpoch >= 0 else {
            throw GraftError.invalidArgument("epochs and initial_epoch must be 0 or more, not \(epochs) and \(initialEpoch)")
        }
        // The training folders name the classes if nothing has yet; the
        // validation folders must then have the same.
        let names = classNames ?? (train.isFromDirectory ? train.classNames : nil)
        try checkDataset(train, role: "training", classNames: names)
        if let validation { try checkDataset(validation, role: "validation", classNames: names) }
        guard network.firstTrainable != nil else {
            throw GraftError(.state, "no layer is trainable: unfreeze the head or some layers before fit")
        }
        if let stepsPerEpoch, stepsPerEpoch < 1 {
            throw GraftError.invalidArgument("steps_per_epoch must be at least 1 (or none: one pass), not \(stepsPerEpoch)")
        }
        guard classWeight == nil || sampleWeight == nil else {
            throw GraftError.invalidArgument("You cannot `class_weight` and `sample_weight` at the same time.")
        }
        if let classWeight {
            guard classWeight.allSatisfy({ $0.value.isFinite }) else {
                throw GraftError.invalidArgument("class_weight values must be finite, not \(classWeight)")
            }
        }
        if let sampleWeight {
            guard sampleWeight.count == train.count, sampleWeight.allSatisfy(\.isFinite) else {
                throw GraftError.invalidArgument(
                    "sample_weight must hold a finite weight for each of the \(train.count) training images, not \(sampleWeight.count) values")
            }
        }
        let weightOfClass = classWeight.map { weights in
            (0..<head.labelClasses).map { weights[$0] ?? 1 }
        }
        /// Each image's weight in a batch, or nil when none is weighted.
        func weights(of batch: Batch) -> [Float]? {
            if let sampleWeight { return batch.indices.map { sampleWeight[$0] } }
            return weightOfClass.map { w in batch.labels.map { w[Int($0)] } }
        }
        try setClassNames(names)
        guard !isFitting else { throw GraftError(.state, "fit cannot run inside a callback of another fit on the same model") }
        let group = distributedGroup
        if let group {
            try joinGroup(group, datasets: [("training", train)] + (validation.map { [("validation", $0)] } ?? []),
                          pass: DataSlice(epoch: initialEpoch, stepsPerEpoch: stepsPerEpoch, batchCount: train.batchCount).pass)
        }
        isFitting = true
        defer { isFitting = false }
        let state = FitState(model: self, epochs: epochs)
        let terminateOnNaN = callbacks.contains { $0 is TerminateOnNaN }
        var history = History()
        history.firstEpoch = initialEpoch
        history.topKName = topKAccuracy?.name
        let started = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        for callback in callbacks { try callback.trainBegin(state) }
        for epoch in initialEpoch..<max(initialEpoch, epochs) {
            for callback in callbacks { try callback.epochBegin(epoch, state) }
            var figures = RunningFigures(topK: topKAccuracy), notFinite = false
            let data = DataSlice(epoch: epoch, stepsPerEpoch: stepsPerEpoch, batchCount: train.batchCount)
            let iterator = train.makeIterator(epoch: data.pass, skip: frozenPrefix.alreadyCached(train, pass: data.pass),
                                              batches: data.batches, augmentation: trainingAugmentation,
                                              decoded: frozenPrefix.decodedImages(train), shard: group?.shard)
            let steps = stepsPerEpoch ?? train.batchCount
            var step = 0
            while let batch = try iterator.next() {
                // The batch's images in all the processes (a shard can be
                // empty, and unreadable files skipped).
                let total = try group.map { Int(try $0.sum([Double(batch.count)], what: "the batch's size")[0]) }
                    ?? batch.count
                if total == 0 { continue }
                let result: (loss: Double, correct: Int, topKHits: Int)
                do {
                    result = try trainOnBatch(batch, total: total, of: train, pass: data.pass, epoch: epoch,
                                              optimizer: optimizer, weights: weights(of: batch), group: group)
                } catch let error as GraftError where error.kind == .numeric && terminateOnNaN {
                    // TerminateOnNaN: the epoch ends here, its loss NaN.
                    notFinite = true
                    break
                }
                figures.add(count: total, loss: result.loss, correct: result.correct, topKHits: result.topKHits)
                step += 1
                let report = figures.progress(epoch: epoch, epochs: epochs, step: step, steps: steps,
                                              elapsedSeconds: elapsed())
                if try anyProcess(progress?(report) == true, group, what: "the decision to stop") {
                    history.stopped = true
                    return history
                }
            }
            guard figures.seen > 0 || notFinite else { throw ImageDataset.nothingRead(role: "training") }
            var logs = Logs(figures.logs())
            if notFinite { logs["loss"] = .nan }
            if let validation, !notFinite {
                for (name, value) in try evaluationFigures(validation).figures.logs(prefix: "val_") { logs[name] = value }
            }
            for callback in callbacks { try callback.epochEnd(epoch, logs: &logs, state) }
            history.append(logs)
            let topKName = topKAccuracy?.name
            let report = TrainingProgress(
                epoch: epoch, epochs: epochs, step: step, steps: steps, loss: logs["loss"]!,
                accuracy: logs["accuracy"]!, topK: topKName.flatMap { name in logs[name].map { (name, $0) } },
                elapsedSeconds: elapsed(), epochEnd: true, valLoss: logs["val_loss"],
                valAccuracy: logs["val_accuracy"], valTopK: topKName.flatMap { logs["val_" + $0] })
            if try anyProcess(progress?(report) == true, group, what: "the decision to stop") {
                history.stopped = true
                return history
            }
            if try anyProcess(state.stopTraining || notFinite, group, what: "the decision to stop") { break }
        }
        for callback in callbacks {
            try callback.trainEnd(state)
            history.callbackState.merge(callback.finalState) { $1 }
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
        guard d.colorMode == .rgb else {
            throw GraftError.invalidArgument(
                "the \(role) images are \(d.colorMode.rawValue) (color_mode=\"\(d.colorMode.rawValue)\"); the model takes RGB images (color_mode=\"rgb\")")
        }
        guard d.hasLabels else {
            throw GraftError.invalidArgument("the \(role) dataset has no labels (labels=None): it can only be predicted on")
        }
        guard d.classNames.count == head.labelClasses else {
            throw GraftError.invalidArgument(head.isBinary
                ? "the \(role) dataset has \(d.classNames.count) classes, the model's binary head takes 2"
                : "the \(role) dataset has \(d.classNames.count) classes, the model's head has \(head.numClasses)")
        }
        guard d.count >= 1 else { throw GraftError.invalidArgument("the \(role) dataset is empty") }
        if let classNames, d.isFromDirectory, d.classNames != classNames {
            throw GraftError.invalidArgument(
                "the \(role) dataset's classes \(d.classNames) are not the model's \(classNames)")
        }
    }

    /// One optimizer step on a batch of data pass `pass` (which names its
    /// feature cache slots) in epoch `epoch`; the weights change only if the
    /// loss is finite. A batch larger than the micro-batch size runs in parts
    /// (`MicroBatch.split`), forward and backward each in turn, their
    /// gradients summed before the one step: BatchNormalization stays in
    /// inference mode, so the parts' gradients add up to the batch's (only
    /// the order of the sums differs), in the memory of one part. So does
    /// a batch whose step needs every gradient at once (global norm
    /// clipping), and a process's shard of a batch in a group, whose sums
    /// the group adds up (`GradientReduction`) while the last part's
    /// backward pass goes on. `total`: the images of the whole batch, over
    /// which the loss is a mean.
    private func trainOnBatch(_ batch: Batch, total: Int, of dataset: ImageDataset, pass: Int, epoch: Int,
                              optimizer: Optimizer, weights: [Float]?, group: ProcessGroup?)
        throws -> (loss: Double, correct: Int, topKHits: Int) {
        let dropoutSeed = seed &+ UInt64(training.steps) &* SeedSalt.dropoutStep
        let parts = batch.count > 0 ? training.parts(of: batch.count, network: network, microBatchSize: microBatchSize) : []
        let input = batch.count > 0 ? try trainingInput(batch, of: dataset, pass: pass) : nil
        if let group { try frozenPrefix.shareComputed(with: group, dataset: dataset) }
        let threads = base.threads
        var loss = 0.0, correct = 0, topKHits = 0
        /// The part's images whose label is among its top-k logits.
        func hits(_ range: Range<Int>, _ part: TrainingStep.LossPass) -> Int {
            guard let topK = topKAccuracy else { return 0 }
            return batch.labels.withUnsafeBufferPointer {
                topK.hits(logits: part.activations.logits.data, labels: $0.baseAddress! + range.lowerBound,
                          batch: range.count, classes: head.numClasses)
            }
        }
        if let input, group == nil, parts.count == 1, !optimizer.config.needsWholeGradient {
            let (step, pass) = try lossOnPart(0..<batch.count, of: batch, total: total, input: input,
                                              weights: weights, dropoutSeed: dropoutSeed, epoch: epoch)
            (loss, correct, topKHits) = (pass.loss, pass.correct, hits(0..<batch.count, pass))
            // Each layer steps as soon as its gradients are ready, so that
            // those of the whole network never take memory at once.
            optimizer.beginStep()
            _ = step.backward(pass.activations, dLogits: pass.dLogits) { optimizer.update($0, threads: threads) }
        } else {
            let sums = training.gradientSums
            let reduction = group.map { GradientReduction(group: $0) }
            // A loss that is not finite in this process: the group must
            // still sum (zeros from here), then none steps.
            var notFinite: GraftError?
            do {
                for (k, range) in parts.enumerated() {
                    let (step, pass) = try lossOnPart(range, of: batch, total: total, input: input!,
                                                      weights: weights, dropoutSeed: dropoutSeed, epoch: epoch)
                    loss += pass.loss
                    correct += pass.correct
                    topKHits += hits(range, pass)
                    sums.startPart(first: k == 0, reduction: k == parts.count - 1 ? reduction : nil)
                    _ = step.backward(pass.activations, dLogits: pass.dLogits, sums: sums)
                }
            } catch let error as GraftError where error.kind == .numeric && group != nil {
                notFinite = error
            }
            if let group, let reduction {
                if input == nil || notFinite != nil {
                    // The weights of the sums an earlier batch made, else
                    // those the step would train.
                    let weights = sums.pairs.isEmpty
                        ? try trainedWeightsInBackwardOrder(resumeAfter: input?.resumeAfter) : sums.pairs.map(\.weight)
                    sums.zero(weights)
                    reduction.add(sums.pairs.map(\.gradient))
                }
                try reduction.finish()
                let figures = try group.sum([loss, Double(correct), Double(topKHits), notFinite == nil ? 0 : 1],
                                            what: "the batch's loss")
                if figures[3] > 0 {
                    throw notFinite ?? GraftError(.numeric, "the loss is \(figures[0]) at epoch \(epoch + 1) (in another "
                        + "process of the group): training stopped, the weights are those from before this batch")
                }
                (loss, correct, topKHits) = (figures[0], Int(figures[1]), Int(figures[2]))
            }
            optimizer.apply(sums.pairs, threads: threads)
        }
        training.stepTaken()
        trainedOneStep()
        return (loss, correct, topKHits)
    }

    /// What the trained layers start from, for the whole batch: the frozen
    /// prefix's output (cached, or computed by its compiled plan) and the
    /// layer it ends at, else the preprocessed images. Computed for the whole
    /// batch at once, so that every part of it gets the same numbers.
    private func trainingInput(_ batch: Batch, of dataset: ImageDataset, pass: Int)
        throws -> (tensor: Tensor, resumeAfter: Int?) {
        if let boundary = frozenPrefix.trainingCacheBoundary {
            return (try frozenPrefix.features(batch, of: dataset, pass: pass, profile: profile), boundary)
        }
        let input = frozenPrefix.preprocessed(batch, of: dataset)
        // The plan runs the batch in chunks of at most Model.maxBatch: its
        // buffers stay those of an inference, whatever the batch's size.
        let capacity = min(batch.count, Model.maxBatch)
        guard let (boundary, plan) = try frozenPrefix.compiled(capacity: capacity) else { return (input, nil) }
        // The frozen prefix runs compiled; training resumes after it.
        let output = Tensor(shape: [batch.count] + layers[boundary].outputShape)
        withExtendedLifetime(input) {
            plan.run(inputs: input.data, count: batch.count, outputs: output.data, profile: profile)
        }
        return (output, boundary)
    }

    /// The forward pass and loss of images `range` of the batch (all of it,
    /// or a part), from `input` (`trainingInput`), on the step compiled for
    /// the part's size; its loss and gradient are its share of the whole
    /// batch's (`total` images, in all the processes). Throws, changing
    /// nothing, when the loss is not finite.
    private func lossOnPart(_ range: Range<Int>, of batch: Batch, total: Int, input: (tensor: Tensor, resumeAfter: Int?),
                            weights: [Float]?, dropoutSeed: UInt64, epoch: Int)
        throws -> (TrainingStep, TrainingStep.LossPass) {
        let step = try training.step(for: network, batch: range.count, resumeAfter: input.resumeAfter,
                                     threads: base.threads, winogradTile: winogradTile)
        step.profile = profile
        let labels = Array(batch.labels[range]), partWeights = weights.map { Array($0[range]) }
        let perImage = input.tensor.count / batch.count
        let pass: TrainingStep.LossPass
        if input.resumeAfter != nil {
            var part = input.tensor
            if range.count < batch.count {
                part = Tensor(shape: [range.count] + Array(input.tensor.shape.dropFirst()))
                part.data.update(from: input.tensor.data + range.lowerBound * perImage, count: part.count)
            }
            pass = step.forwardWithLoss(nil, resume: part, labels: labels, weights: partWeights, loss: loss,
                                        meanOver: total, firstImage: batch.position + range.lowerBound,
                                        dropoutSeed: dropoutSeed)
        } else {
            pass = withExtendedLifetime(input.tensor) {
                step.forwardWithLoss(input.tensor.data + range.lowerBound * perImage, labels: labels,
                                     weights: partWeights, loss: loss, meanOver: total,
                                     firstImage: batch.position + range.lowerBound, dropoutSeed: dropoutSeed)
            }
        }
        guard pass.loss.isFinite else {
            throw GraftError(.numeric, "the loss is \(pass.loss) at epoch \(epoch + 1): training stopped, the weights are those from before this batch")
        }
        return (step, pass)
    }
}

/// The batches one epoch of fit trains on. Without steps_per_epoch, all of
/// data pass `epoch` (each pass with its own shuffle and augmentation). With it,
/// Keras 3's EpochIterator: the passes laid end to end, an epoch takes the
/// next `stepsPerEpoch` batches but ends early where a pass ends, and the
/// next epoch starts a new pass (10 batches, 4 per epoch: 4, 4, 2, 4, ...).
/// A function of the epoch index alone, so that a fit resumed at epoch k
/// takes the batches an uninterrupted one would have.
struct DataSlice {
    let pass: Int
    let batches: Range<Int>

    init(epoch: Int, stepsPerEpoch: Int?, batchCount: Int) {
        guard let stepsPerEpoch, batchCount > 0 else {
            (pass, batches) = (epoch, 0..<batchCount)
            return
        }
        let epochsPerPass = (batchCount + stepsPerEpoch - 1) / stepsPerEpoch
        let start = epoch % epochsPerPass * stepsPerEpoch
        (pass, batches) = (epoch / epochsPerPass, start..<min(start + stepsPerEpoch, batchCount))
    }
}
