import GraftFoundation
import GraftModel

/// `--learning-rate-schedule NAME:ARG=VALUE,...`: a Keras schedule by its
/// snake_case name, with Keras's argument names; a list (piecewise constant
/// decay's boundaries and values) separated by "/". initial_learning_rate
/// defaults to `initialRate`.
func parseSchedule(_ text: String, initialRate: Float) throws -> LearningRateSchedule {
    let classNames = ["exponential_decay": "ExponentialDecay", "piecewise_constant_decay": "PiecewiseConstantDecay",
                      "inverse_time_decay": "InverseTimeDecay", "polynomial_decay": "PolynomialDecay",
                      "cosine_decay": "CosineDecay"]
    let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
    guard let className = classNames[parts[0]] else {
        throw GraftError.invalidArgument(
            "--learning-rate-schedule: unknown schedule \"\(parts[0])\" (\(classNames.keys.sorted().joined(separator: ", ")))")
    }
    var fields: Fields = []
    for argument in (parts.count > 1 ? parts[1] : "").split(separator: ",") {
        let pair = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard pair.count == 2 else {
            throw GraftError.invalidArgument("--learning-rate-schedule: \"\(argument)\" is not NAME=VALUE")
        }
        for item in pair[1].split(separator: "/") {
            guard let value = item == "true" ? 1 : item == "false" ? 0 : Double(item) else {
                throw GraftError.invalidArgument("--learning-rate-schedule: \(pair[0]) takes numbers, not \"\(item)\"")
            }
            fields.append((pair[0], value))
        }
    }
    if className != "PiecewiseConstantDecay" && !fields.contains(where: { $0.name == "initial_learning_rate" }) {
        fields.append(("initial_learning_rate", Double(initialRate)))
    }
    do {
        return try LearningRateSchedule(className: className, fields: fields)
    } catch let error as GraftError {
        throw GraftError.invalidArgument("--learning-rate-schedule: \(error.message)")
    }
}
