/// Progress of fit or evaluate, after each batch, and (fit only) once more
/// at the end of each epoch, after its validation.
public struct TrainingProgress {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    /// Running means over the epoch so far (sample-weighted, as Keras's).
    public var loss: Double, accuracy: Double
    /// The top-k accuracy's name and running mean, when the model reports one.
    public var topK: (name: String, value: Double)?
    public var elapsedSeconds: Double
    /// Whether this is the end-of-epoch report; it carries the validation
    /// figures when fit has validation data.
    public var epochEnd = false
    public var valLoss: Double?, valAccuracy: Double?, valTopK: Double?

    public init(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, accuracy: Double,
                topK: (name: String, value: Double)? = nil, elapsedSeconds: Double, epochEnd: Bool = false,
                valLoss: Double? = nil, valAccuracy: Double? = nil, valTopK: Double? = nil) {
        (self.epoch, self.epochs, self.step, self.steps) = (epoch, epochs, step, steps)
        (self.loss, self.accuracy, self.topK, self.elapsedSeconds) = (loss, accuracy, topK, elapsedSeconds)
        (self.epochEnd, self.valLoss, self.valAccuracy, self.valTopK) = (epochEnd, valLoss, valAccuracy, valTopK)
    }
}

/// The running figures of one pass (an epoch of fit, or an evaluation):
/// Keras's means over the images seen so far.
struct RunningFigures {
    let topK: TopKAccuracy?
    private(set) var seen = 0
    private var correct = 0, topKHits = 0, lossSum = 0.0

    init(topK: TopKAccuracy?) { self.topK = topK }

    /// A batch of `count` images with mean loss `loss`.
    mutating func add(count: Int, loss: Double, correct: Int, topKHits: Int) {
        seen += count
        self.correct += correct
        self.topKHits += topKHits
        lossSum += loss * Double(count)
    }

    /// A batch whose shards (`count` images with mean loss `loss` here) the
    /// processes of `group` add up.
    mutating func addGroupFigures(count: Int, loss: Double, correct: Int, topKHits: Int, _ group: ProcessGroup) throws {
        let all = try group.sum([Double(count), loss * Double(count), Double(correct), Double(topKHits)],
                                what: "the batch's figures")
        guard all[0] > 0 else { return }
        add(count: Int(all[0]), loss: all[1] / all[0], correct: Int(all[2]), topKHits: Int(all[3]))
    }

    var loss: Double { lossSum / Double(seen) }
    var accuracy: Double { Double(correct) / Double(seen) }
    var topKFigure: (name: String, value: Double)? { topK.map { ($0.name, Double(topKHits) / Double(seen)) } }

    /// The figures under Keras's names (`prefix` "val_" for validation),
    /// sorted by name as Keras's logs are.
    func logs(prefix: String = "") -> [(name: String, value: Double)] {
        let figures = [("accuracy", accuracy), ("loss", loss)] + (topKFigure.map { [$0] } ?? [])
        return figures.sorted { $0.0 < $1.0 }.map { (prefix + $0.0, $0.1) }
    }

    /// The progress report after step `step` of `steps`.
    func progress(epoch: Int, epochs: Int, step: Int, steps: Int, elapsedSeconds: Double) -> TrainingProgress {
        TrainingProgress(epoch: epoch, epochs: epochs, step: step, steps: steps, loss: loss, accuracy: accuracy,
                         topK: topKFigure, elapsedSeconds: elapsedSeconds)
    }
}

/// Per-epoch figures of one fit, with Keras's metric names.
public struct History {
    public var loss: [Double] = [], accuracy: [Double] = []
    public var valLoss: [Double] = [], valAccuracy: [Double] = []
    /// The top-k accuracy (training, validation) under its name, when the
    /// model reports one.
    public var topKName: String?
    public var topKAccuracy: [Double] = [], valTopKAccuracy: [Double] = []
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

    /// "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", or
    /// the top-k accuracy's name with or without "val_".
    public func values(_ metric: String) -> [Double]? {
        switch metric {
        case "loss": loss
        case "accuracy": accuracy
        case "val_loss": valLoss
        case "val_accuracy": valAccuracy
        case "learning_rate": learningRate
        case topKName: topKAccuracy
        case topKName.map({ "val_" + $0 }): valTopKAccuracy
        default: nil
        }
    }

    /// The names `values` has figures for, in Keras's order.
    public var recordedNames: [String] {
        (["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"] + (topKName.map { [$0, "val_" + $0] } ?? []))
            .filter { values($0)?.isEmpty == false }
    }

    /// Records one epoch's logs.
    public mutating func append(_ logs: Logs) {
        loss.append(logs["loss"] ?? .nan)
        accuracy.append(logs["accuracy"] ?? .nan)
        if let value = logs["val_loss"] { valLoss.append(value) }
        if let value = logs["val_accuracy"] { valAccuracy.append(value) }
        if let value = logs["learning_rate"] { learningRate.append(value) }
        if let name = topKName {
            if let value = logs[name] { topKAccuracy.append(value) }
            if let value = logs["val_" + name] { valTopKAccuracy.append(value) }
        }
    }
}
