import GraftFoundation

/// An optimizer's settings and a learning-rate schedule's as (Keras
/// argument name, number) pairs, in order, and back: the form a model file
/// keeps them in. A list argument (PiecewiseConstantDecay's boundaries and
/// values) is its name repeated once per element; "none" for Keras's None
/// is NaN; booleans are 0 or 1.
public typealias Fields = [(name: String, value: Double)]

extension LearningRateSchedule {
    public var fields: Fields {
        switch self {
        case let .exponentialDecay(initial, decaySteps, decayRate, staircase),
             let .inverseTimeDecay(initial, decaySteps, decayRate, staircase):
            [("initial_learning_rate", Double(initial)), ("decay_steps", Double(decaySteps)),
             ("decay_rate", Double(decayRate)), ("staircase", staircase ? 1 : 0)]
        case let .piecewiseConstantDecay(boundaries, values):
            boundaries.map { ("boundaries", Double($0)) } + values.map { ("values", Double($0)) }
        case let .polynomialDecay(initial, decaySteps, end, power, cycle):
            [("initial_learning_rate", Double(initial)), ("decay_steps", Double(decaySteps)),
             ("end_learning_rate", Double(end)), ("power", Double(power)), ("cycle", cycle ? 1 : 0)]
        case let .cosineDecay(initial, decaySteps, alpha, warmupTarget, warmupSteps):
            [("initial_learning_rate", Double(initial)), ("decay_steps", Double(decaySteps)), ("alpha", Double(alpha)),
             ("warmup_target", warmupTarget.map(Double.init) ?? .nan), ("warmup_steps", Double(warmupSteps))]
        }
    }

    /// The schedule of Keras class `className` from its fields (validated);
    /// optional arguments left out take Keras's defaults.
    public init(className: String, fields: Fields) throws {
        let read = FieldReader(fields, owner: className)
        switch className {
        case "ExponentialDecay", "InverseTimeDecay":
            let (initial, steps, rate) = (try read.float("initial_learning_rate"), try read.int("decay_steps"),
                                          try read.float("decay_rate"))
            let staircase = try read.bool("staircase", or: Defaults.staircase)
            self = className == "ExponentialDecay"
                ? .exponentialDecay(initialLearningRate: initial, decaySteps: steps, decayRate: rate, staircase: staircase)
                : .inverseTimeDecay(initialLearningRate: initial, decaySteps: steps, decayRate: rate, staircase: staircase)
        case "PiecewiseConstantDecay":
            self = .piecewiseConstantDecay(boundaries: try read.list("boundaries").map { try FieldReader.integer($0, "boundaries", className) },
                                           values: read.list("values").map { Float($0) })
        case "PolynomialDecay":
            self = .polynomialDecay(initialLearningRate: try read.float("initial_learning_rate"),
                                    decaySteps: try read.int("decay_steps"),
                                    endLearningRate: try read.float("end_learning_rate", or: Defaults.endLearningRate),
                                    power: try read.float("power", or: Defaults.power),
                                    cycle: try read.bool("cycle", or: Defaults.cycle))
        case "CosineDecay":
            let target = try read.double("warmup_target", or: .nan)
            self = .cosineDecay(initialLearningRate: try read.float("initial_learning_rate"),
                                decaySteps: try read.int("decay_steps"), alpha: try read.float("alpha", or: Defaults.alpha),
                                warmupTarget: target.isNaN ? nil : Float(target),
                                warmupSteps: try read.int("warmup_steps", or: Defaults.warmupSteps))
        default:
            throw GraftError.invalidArgument("unknown learning-rate schedule \"\(className)\"")
        }
        try validate()
    }
}

extension OptimizerConfig {
    /// The fields of the optimizer (its learning rate NaN when a schedule,
    /// whose fields are `learningRate`'s).
    public var fields: Fields {
        var fields: Fields = []
        if case .constant(let lr) = learningRate { fields.append(("learning_rate", Double(lr))) } else {
            fields.append(("learning_rate", .nan))
        }
        switch algorithm {
        case let .sgd(momentum, nesterov):
            fields += [("momentum", Double(momentum)), ("nesterov", nesterov ? 1 : 0)]
        case let .adam(beta1, beta2, epsilon):
            fields += [("beta_1", beta1), ("beta_2", beta2), ("epsilon", Double(epsilon))]
        case let .rmsprop(rho, momentum, epsilon, centered):
            fields += [("rho", rho), ("momentum", Double(momentum)), ("epsilon", Double(epsilon)),
                       ("centered", centered ? 1 : 0)]
        }
        fields.append(("weight_decay", Double(weightDecay)))
        let (name, threshold): (String, Float?)
        switch clipping {
        case .norm(let c)?: (name, threshold) = ("clipnorm", c)
        case .globalNorm(let c)?: (name, threshold) = ("global_clipnorm", c)
        case .value(let c)?: (name, threshold) = ("clipvalue", c)
        case nil: (name, threshold) = ("clipnorm", nil)
        }
        fields.append((name, threshold.map(Double.init) ?? .nan))
        return fields
    }

    /// The optimizer `name` from its fields and, when its learning rate is
    /// NaN, `schedule` (validated). Fields left out take Keras's defaults.
    public init(name: Name, fields: Fields, schedule: LearningRateSchedule?) throws {
        var config = OptimizerConfig.defaults(name)
        let read = FieldReader(fields, owner: name.className)
        let lr = try read.double("learning_rate")
        if lr.isNaN {
            guard let schedule else {
                throw GraftError.invalidArgument("\(name.className): the learning rate is a schedule, and none is given")
            }
            config.learningRate = .schedule(schedule)
        } else {
            config.learningRate = .constant(Float(lr))
        }
        switch config.algorithm {
        case let .sgd(momentum, nesterov):
            config.algorithm = .sgd(momentum: try read.float("momentum", or: momentum),
                                    nesterov: try read.bool("nesterov", or: nesterov))
        case let .adam(beta1, beta2, epsilon):
            config.algorithm = .adam(beta1: try read.double("beta_1", or: beta1), beta2: try read.double("beta_2", or: beta2),
                                     epsilon: try read.float("epsilon", or: epsilon))
        case let .rmsprop(rho, momentum, epsilon, centered):
            config.algorithm = .rmsprop(rho: try read.double("rho", or: rho), momentum: try read.float("momentum", or: momentum),
                                        epsilon: try read.float("epsilon", or: epsilon),
                                        centered: try read.bool("centered", or: centered))
        }
        config.weightDecay = try read.float("weight_decay", or: config.weightDecay)
        let clipping: [(String, (Float) -> Clipping)] = [("clipnorm", Clipping.norm), ("global_clipnorm", Clipping.globalNorm),
                                                         ("clipvalue", Clipping.value)]
        for (field, make) in clipping {
            let value = try read.double(field, or: .nan)
            if !value.isNaN { config.clipping = make(Float(value)) }
        }
        try config.validate()
        self = config
    }
}

/// Reads named fields, each error naming the field and its owner.
private struct FieldReader {
    let fields: Fields
    let owner: String

    init(_ fields: Fields, owner: String) {
        (self.fields, self.owner) = (fields, owner)
    }

    func double(_ name: String, or fallback: Double? = nil) throws -> Double {
        let matches = fields.filter { $0.name == name }
        if matches.isEmpty, let fallback { return fallback }
        guard matches.count == 1 else {
            throw GraftError.invalidArgument("\(owner): \(matches.isEmpty ? "no" : "more than one") \(name)")
        }
        return matches[0].value
    }

    func list(_ name: String) -> [Double] { fields.filter { $0.name == name }.map(\.value) }

    func float(_ name: String, or fallback: Float? = nil) throws -> Float {
        Float(try double(name, or: fallback.map(Double.init)))
    }

    func bool(_ name: String, or fallback: Bool? = nil) throws -> Bool {
        try double(name, or: fallback.map { $0 ? 1 : 0 }) != 0
    }

    func int(_ name: String, or fallback: Int? = nil) throws -> Int {
        try Self.integer(try double(name, or: fallback.map(Double.init)), name, owner)
    }

    static func integer(_ value: Double, _ name: String, _ owner: String) throws -> Int {
        guard value == value.rounded(), abs(value) < 0x1p53 else {
            throw GraftError.invalidArgument("\(owner): \(name) must be a whole number, not \(value)")
        }
        return Int(value)
    }
}
