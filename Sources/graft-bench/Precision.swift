import GraftData
import GraftKernels
import GraftModel

// The bench's reduced precisions: int8's calibration, and what a precision
// changes against float32 (`graft-bench precision`).

/// Images int8 is calibrated on: "a few hundred" (graft.h), from the start
/// of a pass.
let calibrationImages = 256

/// Switches `model` (made in float32 by `transferModel`) to `precision`,
/// int8 calibrated first on the first `calibrationImages` images of
/// `dataset`.
func setPrecision(_ model: TransferModel, _ precision: Precision, calibratingOn dataset: ImageDataset) throws {
    guard precision == .int8 else { return try model.setPrecision(precision) }
    try model.calibrateBase { base in
        try base.calibrate { add in
            let batches = dataset.makeIterator(epoch: 0)
            var seen = 0
            while seen < calibrationImages, let batch = try batches.next() {
                try add(batch.images, batch.count)
                seen += batch.count
            }
        }
    }
    try model.setPrecision(.int8)
}

/// What bfloat16 (default) or int8 inference changes: a head trained in
/// float32 on the frozen base's features of FOLDER/train, then FOLDER/test
/// predicted with the base in float32 and in the other precision (same
/// weights): top-1 agreement, both accuracies, and the features' relative
/// error.
func precisionBenchmark(_ args: Arguments) throws {
    guard let folder = args.values["dir"] else { fail("precision needs --dir FOLDER (with train/ and test/)") }
    var options = folderOptions(args)
    let train = try ImageDataset.fromDirectory(folder + "/train", options: options)
    options.shuffle = false
    let test = try ImageDataset.fromDirectory(folder + "/test", options: options)
    let classes = train.classNames.count
    let precision = args.values["precision"] == nil ? .bfloat16 : args.precision()
    let exact = try transferModel(args, classes: classes), rounded = try transferModel(args, classes: classes)
    try setPrecision(rounded, precision, calibratingOn: train)
    exact.setBaseTrainable(false)
    try exact.compile(.adam())
    _ = try exact.fit(train, epochs: args.int("epochs", 5))
    // The same head on the rounded base.
    for (from, to) in zip(exact.network.layers, rounded.network.layers) {
        for (source, target) in zip(from.weights, to.weights) { target.data.update(from: source.data, count: source.count) }
    }
    let features = exact.base.featureShape.reduce(1, *)
    var agree = 0, seen = 0, correct = (exact: 0, rounded: 0)
    var errors: [Double] = []
    let iterator = test.makeIterator()
    while let batch = try iterator.next() {
        let n = batch.count
        let logits = (Tensor(shape: [n, classes]), Tensor(shape: [n, classes]))
        try exact.logits(images: batch.images, count: n, into: logits.0.data)
        try rounded.logits(images: batch.images, count: n, into: logits.1.data)
        let f = (Tensor(shape: [n * features]), Tensor(shape: [n * features]))
        try exact.base.features(images: batch.images, count: n, output: f.0.data)
        try rounded.base.features(images: batch.images, count: n, output: f.1.data)
        for i in 0..<n {
            let a = argmax(logits.0.data + i * classes, classes), b = argmax(logits.1.data + i * classes, classes)
            agree += a == b ? 1 : 0
            correct.exact += a == Int(batch.labels[i]) ? 1 : 0
            correct.rounded += b == Int(batch.labels[i]) ? 1 : 0
            var difference = 0.0, norm = 0.0
            for j in (i * features)..<((i + 1) * features) {
                difference += Double(f.1.data[j] - f.0.data[j]) * Double(f.1.data[j] - f.0.data[j])
                norm += Double(f.0.data[j]) * Double(f.0.data[j])
            }
            errors.append((difference / max(norm, 1e-30)).squareRoot())
        }
        seen += n
    }
    errors.sort()
    print(json([("engine", "\"graft\""), ("images", "\(seen)"),
                ("top1_agreement", String(format: "%.4f", Double(agree) / Double(seen))),
                ("accuracy_float32", String(format: "%.4f", Double(correct.exact) / Double(seen))),
                ("precision", "\"\(precision.rawValue)\""),
                ("accuracy_rounded", String(format: "%.4f", Double(correct.rounded) / Double(seen))),
                ("feature_error_median", String(format: "%.4g", errors[errors.count / 2])),
                ("feature_error_max", String(format: "%.4g", errors.last!))]))
}

func argmax(_ values: UnsafePointer<Float>, _ count: Int) -> Int {
    (0..<count).max { values[$0] < values[$1] }!
}
