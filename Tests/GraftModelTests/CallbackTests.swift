import Foundation
import GraftFoundation
import GraftModel
import Testing

// The callbacks against Keras's own decisions (tools/make_callback_fixtures.py):
// the same scripted epoch logs through Keras's callback and Graft's, which
// must agree after every epoch on whether to stop, the wait counter, the
// best value and the learning rate, and at the end on the stopped epoch and
// the weights put back (each epoch's head kernel holds the epoch's index).

private func cases() throws -> [[String: Any]] {
    let path = try Fixtures.path(inFixtures: "callbacks/callbacks.json")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    return json["cases"] as! [[String: Any]]
}

private func monitor(_ arguments: [String: Any], minDelta: Double) -> Monitor {
    Monitor(arguments["monitor"] as? String ?? "val_loss",
            mode: Monitor.Mode(rawValue: arguments["mode"] as? String ?? "auto")!,
            minDelta: arguments["min_delta"] as? Double ?? minDelta)
}

@Test("EarlyStopping and ReduceLROnPlateau decide as Keras's on scripted metrics, epoch by epoch")
func callbacksDecideAsKeras() throws {
    let all = try cases()
    #expect(all.count >= 6)
    for entry in all {
        let arguments = entry["arguments"] as! [String: Any]
        let model = try transferModel()
        model.setBaseTrainable(false)
        try model.compile(.sgd(learningRate: Float(entry["learning_rate"] as! Double)))
        let callback: FitCallback
        if entry["callback"] as! String == "EarlyStopping" {
            callback = EarlyStopping(monitor: monitor(arguments, minDelta: 0), patience: arguments["patience"] as? Int ?? 0,
                                     baseline: arguments["baseline"] as? Double,
                                     restoreBestWeights: arguments["restore_best_weights"] as? Bool ?? false,
                                     startFromEpoch: arguments["start_from_epoch"] as? Int ?? 0)
        } else {
            callback = try ReduceLROnPlateau(monitor: monitor(arguments, minDelta: 1e-4),
                                             factor: arguments["factor"] as? Double ?? 0.1,
                                             patience: arguments["patience"] as? Int ?? 10,
                                             cooldown: arguments["cooldown"] as? Int ?? 0,
                                             minLR: arguments["min_lr"] as? Double ?? 0)
        }
        let kernel = model.layers.last!.weights[0]
        let state = FitState(model: model, epochs: 100)
        try callback.trainBegin(state)
        let sequence = entry["logs"] as! [[String: Double]], expected = entry["epochs"] as! [[String: Any]]
        var epochs = 0
        for (epoch, figures) in sequence.enumerated() {
            kernel.data.update(repeating: Float(epoch), count: kernel.count)
            var logs = Logs(figures.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            try callback.epochEnd(epoch, logs: &logs, state)
            let keras = expected[epoch], label = "\(entry["callback"]!) \(arguments) epoch \(epoch)"
            let (wait, best): (Int, Double?) = (callback as? EarlyStopping).map { ($0.wait, $0.best) }
                ?? { let r = callback as! ReduceLROnPlateau; return (r.wait, r.best) }()
            #expect(state.stopTraining == keras["stop_training"] as! Bool, "\(label): stop")
            #expect(wait == keras["wait"] as! Int, "\(label): wait")
            #expect(best.map(Float.init) == (keras["best"] as? Double).map(Float.init), "\(label): best")
            // Both rates are float32s (Foundation's JSON reader can miss a
            // double's last digit, never a float's).
            #expect(model.optimizer!.learningRate == Float(keras["learning_rate"] as! Double), "\(label): learning rate")
            epochs += 1
            if state.stopTraining { break }
        }
        #expect(epochs == expected.count)
        try callback.trainEnd(state)
        if let early = callback as? EarlyStopping {
            #expect(early.stoppedEpoch == entry["stopped_epoch"] as! Int)
            #expect(early.bestEpoch == entry["best_epoch"] as! Int)
            #expect(Double(kernel.data[0]) == entry["final_weight"] as! Double, "the weights put back")
        }
    }
}

@Test("fit with callbacks: EarlyStopping stops, ModelCheckpoint saves the best, CSVLogger writes Keras's rows, initial_epoch counts on")
func fitRunsCallbacks() throws {
    let folder = NSTemporaryDirectory() + "graft-callbacks-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try transferModel()
    model.setBaseTrainable(false)
    try model.compile(.adam(learningRate: 0.01))
    let train = try colourDataset(count: 16, seed: 3), validation = try colourDataset(count: 8, seed: 4)
    // Stops at once: patience 0 and min_delta so large nothing improves.
    let stop = EarlyStopping(monitor: Monitor("loss", minDelta: 100), patience: 0)
    let checkpoint = try ModelCheckpoint(filepath: folder + "/sub/model-{epoch:02d}-{val_loss:.3f}.h5")
    let csv = CSVLogger(filename: folder + "/log.csv")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let history = try model.fit(train, epochs: 5, validation: validation, callbacks: [stop, checkpoint, csv])
    #expect(history.epochs == 2 && stop.stoppedEpoch == 1, "epoch 0 sets the best, epoch 1 does not beat it")
    #expect(history.callbackState["early_stopping.stopped_epoch"] == 1
        && history.callbackState["early_stopping.best"] == history.loss[0])
    let saved = try FileManager.default.contentsOfDirectory(atPath: folder + "/sub").sorted()
    #expect(saved.count == 2 && saved[0].hasPrefix("model-01-") && saved[1].hasPrefix("model-02-"))
    let loaded = try TransferModel.load(from: folder + "/sub/" + saved[1], threads: 2)
    #expect(loaded.layers.last!.weights[0].array == model.layers.last!.weights[0].array)
    let rows = try String(contentsOfFile: folder + "/log.csv", encoding: .utf8).components(separatedBy: "\r\n")
    #expect(rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" && rows[1].hasPrefix("0,") && rows[2].hasPrefix("1,"))
    #expect(rows[1] == "0,\(history.accuracy[0]),\(history.loss[0]),\(history.valAccuracy[0]),\(history.valLoss[0])")

    // Resumed at epoch 2 with a scheduler: history and progress count from there.
    var seen: [Int] = []
    let scheduler = LearningRateScheduler { epoch, rate in epoch == 3 ? rate / 10 : rate }
    let more = try model.fit(train, epochs: 4, initialEpoch: 2, callbacks: [scheduler]) { p in
        if p.epochEnd { seen.append(p.epoch) }
        return false
    }
    #expect(more.firstEpoch == 2 && more.epochs == 2 && seen == [2, 3])
    #expect(more.learningRate.map { Float($0) } == [0.01, Float(0.01) / 10])
    #expect(try model.fit(train, epochs: 0).epochs == 0)
    #expect(throws: GraftError.self) { try ModelCheckpoint(filepath: "model.txt") }
    #expect(throws: GraftError.self) { try ModelCheckpoint(filepath: "model.weights.h5") }
    #expect(throws: GraftError.self) { try ReduceLROnPlateau(factor: 1) }
    #expect(throws: GraftError.self) {
        try model.fit(train, epochs: 1, callbacks: [EarlyStopping(monitor: Monitor("val_f1"))])
    }
}
