import CGraftABI
import GraftFoundation
import GraftModel

/// The C enum value of each optimizer, and back.
private let optimizerKinds: [(graft_optimizer, OptimizerConfig.Name)] = [
    (GRAFT_OPTIMIZER_SGD, .sgd), (GRAFT_OPTIMIZER_ADAM, .adam), (GRAFT_OPTIMIZER_ADAMW, .adamw),
    (GRAFT_OPTIMIZER_RMSPROP, .rmsprop),
]

/// Keras's defaults for `kind`, every field filled (those another kind
/// reads hold that kind's defaults), from `OptimizerConfig`.
func defaultOptimizerOptions(_ kind: graft_optimizer) -> graft_optimizer_options {
    var o = graft_optimizer_options()
    o.struct_size = MemoryLayout<graft_optimizer_options>.size
    o.kind = Int32(bitPattern: kind.rawValue)
    let name = optimizerKinds.first { $0.0 == kind }?.1 ?? .sgd
    // Every algorithm's own defaults, then the kind's on top.
    for config in [OptimizerConfig.defaults(.rmsprop), .defaults(.adam), .defaults(.sgd), .defaults(name)] {
        if case .constant(let lr) = config.learningRate { o.learning_rate = lr }
        switch config.algorithm {
        case let .sgd(momentum, nesterov): (o.momentum, o.nesterov) = (momentum, nesterov ? 1 : 0)
        case let .adam(beta1, beta2, epsilon): (o.beta_1, o.beta_2, o.epsilon) = (beta1, beta2, epsilon)
        case let .rmsprop(rho, momentum, epsilon, centered):
            (o.rho, o.momentum, o.epsilon, o.centered) = (rho, momentum, epsilon, centered ? 1 : 0)
        }
        o.weight_decay = config.weightDecay
    }
    return o
}

@_cdecl("graft_optimizer_options_init_sized")
public func graft_optimizer_options_init_sized(_ options: UnsafeMutablePointer<graft_optimizer_options>?,
                                               _ kind: graft_optimizer, _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultOptimizerOptions(kind), to: options, callerSize: structSize)
}

/// The optimizer the C options describe.
private func optimizerConfig(_ options: UnsafePointer<graft_optimizer_options>) throws -> OptimizerConfig {
    let kind = graft_optimizer(rawValue: UInt32(bitPattern: options.pointee.kind))
    guard let name = optimizerKinds.first(where: { $0.0 == kind })?.1 else {
        throw GraftError.invalidArgument("unknown optimizer kind \(options.pointee.kind)")
    }
    let c = try readOptions(options, defaults: defaultOptimizerOptions(kind), initFunction: "graft_optimizer_options_init")
    var config = OptimizerConfig.defaults(name)
    config.learningRate = .constant(c.learning_rate)
    if let schedule = c.learning_rate_schedule { config.learningRate = .schedule(try learningRateSchedule(schedule)) }
    switch config.algorithm {
    case .sgd: config.algorithm = .sgd(momentum: c.momentum, nesterov: try flag(c.nesterov, "nesterov"))
    case .adam: config.algorithm = .adam(beta1: c.beta_1, beta2: c.beta_2, epsilon: c.epsilon)
    case .rmsprop:
        config.algorithm = .rmsprop(rho: c.rho, momentum: c.momentum, epsilon: c.epsilon,
                                    centered: try flag(c.centered, "centered"))
    }
    config.weightDecay = c.weight_decay
    let clippings: [OptimizerConfig.Clipping] = [
        c.clipnorm != 0 ? .norm(c.clipnorm) : nil, c.global_clipnorm != 0 ? .globalNorm(c.global_clipnorm) : nil,
        c.clipvalue != 0 ? .value(c.clipvalue) : nil,
    ].compactMap { $0 }
    guard clippings.count <= 1 else {
        throw GraftError.invalidArgument(
            "only one of clipnorm, global_clipnorm and clipvalue can be set, not \(c.clipnorm), \(c.global_clipnorm), \(c.clipvalue)")
    }
    config.clipping = clippings.first
    try config.validate()
    return config
}

@_cdecl("graft_model_compile")
public func graft_model_compile(_ model: OpaquePointer?, _ options: UnsafePointer<graft_optimizer_options>?) -> graft_status {
    var loss = defaultLossOptions()
    return graft_model_compile_with_loss(model, options, &loss)
}

func defaultLossOptions() -> graft_loss_options {
    graft_loss_options(struct_size: MemoryLayout<graft_loss_options>.size,
                       label_smoothing: CrossEntropy().labelSmoothing, top_k: 0, top_k_name: nil,
                       binary_threshold: CrossEntropy.defaultBinaryThreshold)
}

@_cdecl("graft_loss_options_init_sized")
public func graft_loss_options_init_sized(_ options: UnsafeMutablePointer<graft_loss_options>?, _ structSize: Int) {
    guard let options else { return }
    writeOptions(defaultLossOptions(), to: options, callerSize: structSize)
}

@_cdecl("graft_model_compile_with_loss")
public func graft_model_compile_with_loss(_ model: OpaquePointer?, _ options: UnsafePointer<graft_optimizer_options>?,
                                          _ loss: UnsafePointer<graft_loss_options>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let config = try optimizerConfig(try required(options, "options"))
        let c = try readOptions(try required(loss, "loss"), defaults: defaultLossOptions(),
                                initFunction: "graft_loss_options_init")
        let crossEntropy = CrossEntropy(labelSmoothing: c.label_smoothing, binaryThreshold: c.binary_threshold)
        guard c.top_k >= 0 else { throw GraftError.invalidArgument("top_k must be 0 (none) or more, not \(c.top_k)") }
        let topK = c.top_k == 0 ? nil : TopKAccuracy(
            k: Int(c.top_k), name: try c.top_k_name.map { try string($0, "top_k_name") } ?? TopKAccuracy.sparseName)
        try handle.locked { try handle.requireHead().compile(config, loss: crossEntropy, topKAccuracy: topK) }
    }
}

@_cdecl("graft_model_top_k_name")
public func graft_model_top_k_name(_ model: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let handle = try? ModelHandle.from(model) else { return nil }
    return (try? handle.locked { handle.topKName() }) ?? nil
}

@_cdecl("graft_model_optimizer_config")
public func graft_model_optimizer_config(_ model: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?,
                                         _ capacity: Int, _ needed: UnsafeMutablePointer<Int>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let text = try handle.locked { try requireOptimizer(handle).config.kerasJSON }
        try copyText(text, to: buffer, capacity: capacity, needed: needed)
    }
}

@_cdecl("graft_model_learning_rate")
public func graft_model_learning_rate(_ model: OpaquePointer?, _ rate: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        let rate = try required(rate, "rate")
        rate.pointee = try handle.locked { try requireOptimizer(handle).learningRate }
    }
}

@_cdecl("graft_model_set_learning_rate")
public func graft_model_set_learning_rate(_ model: OpaquePointer?, _ rate: Float) -> graft_status {
    catchingErrors {
        let handle = try ModelHandle.from(model)
        try handle.locked { try requireOptimizer(handle).setLearningRate(rate) }
    }
}

@_cdecl("graft_model_optimizer_iterations")
public func graft_model_optimizer_iterations(_ model: OpaquePointer?) -> Int64 {
    guard let handle = try? ModelHandle.from(model) else { return -1 }
    return (try? handle.locked { Int64(try requireOptimizer(handle).iterations) }) ?? -1
}

private func requireOptimizer(_ handle: ModelHandle) throws -> Optimizer {
    guard let optimizer = try handle.requireHead().optimizer else {
        throw GraftError(.state, "the model is not compiled: call graft_model_compile first")
    }
    return optimizer
}

// MARK: - Schedules

private let scheduleKinds: [graft_schedule] = [
    GRAFT_SCHEDULE_EXPONENTIAL_DECAY, GRAFT_SCHEDULE_PIECEWISE_CONSTANT_DECAY, GRAFT_SCHEDULE_INVERSE_TIME_DECAY,
    GRAFT_SCHEDULE_POLYNOMIAL_DECAY, GRAFT_SCHEDULE_COSINE_DECAY,
]

/// Keras's defaults of every schedule argument, from `LearningRateSchedule`.
func defaultSchedule(_ kind: graft_schedule) -> graft_learning_rate_schedule {
    var s = graft_learning_rate_schedule()
    s.struct_size = MemoryLayout<graft_learning_rate_schedule>.size
    s.kind = Int32(bitPattern: kind.rawValue)
    typealias Defaults = LearningRateSchedule.Defaults
    s.staircase = Defaults.staircase ? 1 : 0
    (s.end_learning_rate, s.power, s.cycle) = (Defaults.endLearningRate, Defaults.power, Defaults.cycle ? 1 : 0)
    (s.alpha, s.warmup_target, s.warmup_steps) = (Defaults.alpha, .nan, Int64(Defaults.warmupSteps))
    return s
}

@_cdecl("graft_learning_rate_schedule_init_sized")
public func graft_learning_rate_schedule_init_sized(_ schedule: UnsafeMutablePointer<graft_learning_rate_schedule>?,
                                                    _ kind: graft_schedule, _ structSize: Int) {
    guard let schedule else { return }
    writeOptions(defaultSchedule(kind), to: schedule, callerSize: structSize)
}

/// The schedule the C struct describes (validated).
func learningRateSchedule(_ pointer: UnsafePointer<graft_learning_rate_schedule>) throws -> LearningRateSchedule {
    let kind = graft_schedule(rawValue: UInt32(bitPattern: pointer.pointee.kind))
    guard scheduleKinds.contains(kind) else {
        throw GraftError.invalidArgument("unknown learning-rate schedule kind \(pointer.pointee.kind)")
    }
    let c = try readOptions(pointer, defaults: defaultSchedule(kind), initFunction: "graft_learning_rate_schedule_init")
    guard let steps = Int(exactly: c.decay_steps), let warmupSteps = Int(exactly: c.warmup_steps) else {
        throw GraftError.invalidArgument("decay_steps or warmup_steps out of range")
    }
    let schedule: LearningRateSchedule
    switch kind {
    case GRAFT_SCHEDULE_EXPONENTIAL_DECAY:
        schedule = .exponentialDecay(initialLearningRate: c.initial_learning_rate, decaySteps: steps,
                                     decayRate: c.decay_rate, staircase: try flag(c.staircase, "staircase"))
    case GRAFT_SCHEDULE_INVERSE_TIME_DECAY:
        schedule = .inverseTimeDecay(initialLearningRate: c.initial_learning_rate, decaySteps: steps,
                                     decayRate: c.decay_rate, staircase: try flag(c.staircase, "staircase"))
    case GRAFT_SCHEDULE_PIECEWISE_CONSTANT_DECAY:
        guard c.values_count >= 1 && c.values_count <= 1 << 20 else {
            throw GraftError.invalidArgument("values_count must be from 1 to 2^20, not \(c.values_count)")
        }
        let values = try array(c.values, count: Int32(c.values_count), "values")
        let boundaries = try array(c.boundaries, count: Int32(c.values_count - 1), "boundaries")
        schedule = .piecewiseConstantDecay(boundaries: boundaries.map { Int($0) }, values: Array(values))
    case GRAFT_SCHEDULE_POLYNOMIAL_DECAY:
        schedule = .polynomialDecay(initialLearningRate: c.initial_learning_rate, decaySteps: steps,
                                    endLearningRate: c.end_learning_rate, power: c.power,
                                    cycle: try flag(c.cycle, "cycle"))
    default:
        schedule = .cosineDecay(initialLearningRate: c.initial_learning_rate, decaySteps: steps, alpha: c.alpha,
                                warmupTarget: c.warmup_target.isNaN ? nil : c.warmup_target,
                                warmupSteps: warmupSteps)
    }
    try schedule.validate()
    return schedule
}

@_cdecl("graft_learning_rate_schedule_value")
public func graft_learning_rate_schedule_value(_ schedule: UnsafePointer<graft_learning_rate_schedule>?,
                                               _ step: Int64, _ rate: UnsafeMutablePointer<Float>?) -> graft_status {
    catchingErrors {
        let schedule = try learningRateSchedule(try required(schedule, "schedule"))
        let rate = try required(rate, "rate")
        guard step >= 0, let at = Int(exactly: step) else {
            throw GraftError.invalidArgument("step must be 0 or more, not \(step)")
        }
        rate.pointee = schedule.rate(atStep: at)
    }
}
