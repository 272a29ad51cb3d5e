import GraftModel

/// The per-epoch figures of one fit under Keras's names ("loss", "accuracy",
/// "val_loss", "val_accuracy"), as Keras's `History.history`.
public struct History: Sendable {
    /// Each figure's value per epoch.
    public let history: [String: [Double]]
    /// How many epochs ran.
    public let epochs: Int

    init(_ core: GraftModel.History) {
        history = Dictionary(uniqueKeysWithValues: core.recordedNames.map { ($0, core.values($0)!) })
        epochs = core.epochs
    }
}

/// Where a fit is, after one batch or at an epoch's end.
public struct FitProgress: Sendable {
    /// The epoch (from 1) of `epochs`, and the batch (from 1) of `steps`.
    public let epoch: Int, epochs: Int, step: Int, steps: Int
    /// The epoch's running mean loss and accuracy so far.
    public let loss: Double, accuracy: Double
    /// At an epoch's end: the validation figures, when there is validation data.
    public let isEpochEnd: Bool
    public let valLoss: Double?, valAccuracy: Double?

    init(_ core: TrainingProgress) {
        (epoch, epochs, step, steps) = (core.epoch + 1, core.epochs, core.step, core.steps)
        (loss, accuracy, isEpochEnd) = (core.loss, core.accuracy, core.epochEnd)
        (valLoss, valAccuracy) = (core.valLoss, core.valAccuracy)
    }
}
