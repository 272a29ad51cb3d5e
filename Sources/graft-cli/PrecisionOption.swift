import ArgumentParser
import GraftData
import GraftFoundation
import GraftKernels
import GraftModel

// --precision and --calibration, as train, evaluate and predict take them.

let precisionHelp: ArgumentHelp = """
    Number format of inference and of the frozen base: float32 (as Keras), bfloat16 (needs AVX512_BF16) or \
    int8 (needs AVX512_VNNI and --calibration).
    """

let calibrationHelp: ArgumentHelp = """
    With --precision int8: a folder of images like those the model will see (every image below it; a few \
    hundred are plenty), on which the ranges int8 rounds activations by are measured (a model saved with \
    them needs none).
    """

func parsePrecision(_ text: String) throws -> Precision {
    guard let precision = Precision(rawValue: text) else {
        throw GraftError.invalidArgument(
            "--precision must be \(Precision.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text)\"")
    }
    return precision
}

/// Switches `model` to `precision`, int8 calibrated first on the images
/// below `calibration` (or by the model file's calibration without one).
func setPrecision(_ model: TransferModel, _ precision: Precision, calibration: String?, threads: Int,
                  pixelLimit: Int) throws {
    if precision == .int8 {
        guard let calibration else {
            guard model.base.calibration != nil else {
                throw GraftError.invalidArgument(
                    "--precision int8 needs --calibration DIR: a folder of images like those the model will see")
            }
            return try model.setPrecision(.int8)
        }
        var options = DatasetOptions()
        (options.imageHeight, options.imageWidth) = (model.base.base.inputHeight, model.base.base.inputWidth)
        (options.labels, options.shuffle, options.threads, options.pixelLimit) = (.none, false, threads, pixelLimit)
        let images = try ImageDataset.fromDirectory(calibration, options: options)
        try model.calibrateBase { try $0.calibrate(images) }
    } else if calibration != nil {
        throw GraftError.invalidArgument("--calibration is for --precision int8")
    }
    try model.setPrecision(precision)
}
