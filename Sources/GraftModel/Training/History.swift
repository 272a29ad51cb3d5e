/// Progress of fit or evaluate, after each batch, and (fit only) once more
/// at the end of each epoch, after its validation.
public struct TrainingProgress {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    /// Running means over the epoch so far (sample-weighted, as Keras's).
    public var loss: Double, accuracy: Double
    public var elapsedSeconds: Double
    /// Whether this is the end-of-epoch report; it carries the validation
    /// figures when fit has validation data.
    public var epochEnd = false
    public var valLoss: Double?, valAccuracy: Double?

    public init(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, accuracy: Double,
                elapsedSeconds: Double, epochEnd: Bool = false, valLoss: Double? = nil, valAccuracy: Double? = nil) {
        (self.epoch, self.epochs, self.step, self.steps) = (epoch, epochs, step, steps)
        (self.loss, self.accuracy, self.elapsedSeconds) = (loss, accuracy, elapsedSeconds)
        (self.epochEnd, self.valLoss, self.valAccuracy) = (epochEnd, valLoss, valAccuracy)
    }
}

/// Per-epoch figures of one fit, with Keras's metric names.
public struct History {
    public var loss: [Double] = [], accuracy: [Double] = []
    public var valLoss: [Double] = [], valAccuracy: [Double] = []
    /// The learning rate at the end of each epoch, when a callback logged
    /// it (ReduceLROnPlateau, LearningRateScheduler), as Keras's History.
    public var learningRate: [Double] = []
    /// The index of the first epoch recorded (the fit's initial epoch).
    public var firstEpoch = 0
    /// Whether a progress callback stopped the fit.
    public var stopped = false
    /// The callbacks' state at the end of the fit (`FitCallback.finalState`).
    public var callbackState: [String: Double] = [:]

    public init() {}

    public var epochs: Int { loss.count }

    /// "loss", "accuracy", "val_loss", "val_accuracy" or "learning_rate".
    public func values(_ metric: String) -> [Double]? {
        switch metric {
        case "loss": loss
        case "accuracy": accuracy
        case "val_loss": valLoss
        case "val_accuracy": valAccuracy
        case "learning_rate": learningRate
        default: nil
        }
    }

    /// Records one epoch's logs.
    mutating func append(_ logs: Logs) {
        loss.append(logs["loss"] ?? .nan)
        accuracy.append(logs["accuracy"] ?? .nan)
        if let value = logs["val_loss"] { valLoss.append(value) }
        if let value = logs["val_accuracy"] { valAccuracy.append(value) }
        if let value = logs["learning_rate"] { learningRate.append(value) }
    }
}
