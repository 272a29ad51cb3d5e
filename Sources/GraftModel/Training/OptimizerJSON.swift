/// An optimizer as Keras's `keras.optimizers.serialize` writes it, in JSON:
///
///     {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam",
///      "learning_rate": 0.001, "beta_1": 0.9, ..., "clipnorm": null, ...}, "registered_name": null}
///
/// with a schedule's learning rate nested in the same form
/// (`keras.optimizers.schedules`). Float32 settings are written as their
/// shortest float32 decimals (0.001, not 0.0010000000474974513), Keras's
/// None as null, flags as true/false.
extension OptimizerConfig {
    public var kerasJSON: String {
        // Keras's None for no weight decay, but AdamW's, which must be a number.
        var fields = self.fields.map { field in
            field.name == "weight_decay" && field.value == 0 && name != .adamw ? (field.name, .nan) : field
        }
        // Keras's config names every clipping, unused ones None.
        for clip in ["clipnorm", "global_clipnorm", "clipvalue"] where !fields.contains(where: { $0.name == clip }) {
            fields.append((clip, .nan))
        }
        var config = [("name", jsonString(name == .sgd ? "SGD" : name.rawValue))]
        for (field, value) in jsonMembers(fields) {
            if field == "learning_rate", case .schedule(let schedule) = learningRate {
                // Keras names PiecewiseConstantDecay "PiecewiseConstant" by default.
                let scheduleName = schedule.className == "PiecewiseConstantDecay" ? "PiecewiseConstant" : schedule.className
                config.append((field, serialized(module: "keras.optimizers.schedules", className: schedule.className,
                                                 config: [("name", jsonString(scheduleName))] + jsonMembers(schedule.fields))))
            } else {
                config.append((field, value))
            }
        }
        return serialized(module: "keras.optimizers", className: name.className, config: config)
    }
}

/// Keras's flags and whole numbers among the fields; the others are float32.
private let flagFields: Set = ["nesterov", "centered", "staircase", "cycle"]
private let integerFields: Set = ["decay_steps", "warmup_steps", "boundaries"]

/// The fields as JSON members, in order; a name repeated makes a list.
private func jsonMembers(_ fields: Fields) -> [(String, String)] {
    var names: [String] = []
    for field in fields where !names.contains(field.name) { names.append(field.name) }
    return names.map { name in
        let values = fields.filter { $0.name == name }.map { jsonNumber($0.value, field: name) }
        let isList = name == "boundaries" || name == "values"
        return (name, isList ? "[" + values.joined(separator: ", ") + "]" : values[0])
    }
}

private func jsonNumber(_ value: Double, field: String) -> String {
    if value.isNaN { return "null" }
    if flagFields.contains(field) { return value != 0 ? "true" : "false" }
    if integerFields.contains(field), let whole = Int(exactly: value) { return String(whole) }
    if let single = Float(exactly: value) { return "\(single)" }
    return "\(value)"
}

private func jsonString(_ text: String) -> String {
    // Class and optimizer names: letters, digits and underscores only.
    "\"\(text)\""
}

private func serialized(module: String, className: String, config: [(String, String)]) -> String {
    let members = config.map { "\(jsonString($0.0)): \($0.1)" }.joined(separator: ", ")
    return "{\"module\": \"\(module)\", \"class_name\": \"\(className)\", \"config\": {\(members)}, \"registered_name\": null}"
}
