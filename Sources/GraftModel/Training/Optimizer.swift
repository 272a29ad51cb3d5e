import CGraftOptimizer
import Glibc
import GraftFoundation
import GraftKernels

/// Keras's optimizers (SGD, Adam, AdamW, RMSprop) with Keras 3's defaults
/// and update formulas (float32, in Keras's order of operations), its
/// learning-rate schedules, decoupled weight decay and gradient clipping.
///
/// A step, as Keras's `apply`: the gradients are clipped; every weight
/// decays, w −= (w·weight_decay)·lr; then the algorithm's update runs with
/// lr, the learning rate of the step (a schedule's at the step count before
/// this step).
public struct OptimizerConfig: Equatable {
    /// The update of each weight from its (clipped) gradient g.
    public enum Algorithm: Equatable {
        /// v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g).
        case sgd(momentum: Float, nesterov: Bool)
        /// m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
        /// w −= α·m/(sqrt(v) + ε), α = lr·sqrt(1 − β2^t)/(1 − β1^t).
        /// The betas are kept in double, as Keras keeps them (Python
        /// floats): 1 − β is formed in double and then rounded, and β^t in
        /// float32.
        case adam(beta1: Double, beta2: Double, epsilon: Float)
        /// v = ρ·v + (1 − ρ)·g²; increment = lr·g / sqrt(v + ε) (centered:
        /// a = ρ·a + (1 − ρ)·g, sqrt(v − a² + ε)); with momentum,
        /// m = momentum·m + increment, w −= m; else w −= increment. ρ is
        /// kept in double as Adam's betas are.
        case rmsprop(rho: Double, momentum: Float, epsilon: Float, centered: Bool)
    }

    /// Keras's gradient clipping (one kind at most, as Keras allows).
    public enum Clipping: Equatable {
        /// `clipnorm`: each tensor g·c / max(‖g‖, c).
        case norm(Float)
        /// `global_clipnorm`: every tensor times c / max(‖all gradients‖, c).
        case globalNorm(Float)
        /// `clipvalue`: each element clipped to [−c, c].
        case value(Float)
    }

    /// Keras's optimizer names, as `compile(optimizer="adamw")` takes them.
    public enum Name: String, CaseIterable {
        case sgd, adam, adamw, rmsprop

        /// Keras's class name ("AdamW").
        public var className: String {
            switch self {
            case .sgd: "SGD"
            case .adam: "Adam"
            case .adamw: "AdamW"
            case .rmsprop: "RMSprop"
            }
        }
    }

    public var name: Name
    public var algorithm: Algorithm
    public var learningRate: LearningRate
    /// Decoupled weight decay (Keras's `weight_decay`); 0 for none.
    public var weightDecay: Float
    public var clipping: Clipping?

    public init(name: Name, algorithm: Algorithm, learningRate: LearningRate, weightDecay: Float = 0,
                clipping: Clipping? = nil) {
        (self.name, self.algorithm, self.learningRate) = (name, algorithm, learningRate)
        (self.weightDecay, self.clipping) = (weightDecay, clipping)
    }

    /// Keras's defaults: the one place they are written (the C ABI's option
    /// defaults, the `graft` command and the Python package all read them
    /// from here).
    public static let sgdLearningRate: Float = 0.01
    public static let adamLearningRate: Float = 0.001
    public static let rmspropLearningRate: Float = 0.001
    public static let adamWWeightDecay: Float = 0.004

    public static func sgd(learningRate: Float = sgdLearningRate, momentum: Float = 0, nesterov: Bool = false,
                           weightDecay: Float = 0, clipping: Clipping? = nil) -> OptimizerConfig {
        OptimizerConfig(name: .sgd, algorithm: .sgd(momentum: momentum, nesterov: nesterov),
                        learningRate: .constant(learningRate), weightDecay: weightDecay, clipping: clipping)
    }

    public static func adam(learningRate: Float = adamLearningRate, beta1: Double = 0.9, beta2: Double = 0.999,
                            epsilon: Float = 1e-7, weightDecay: Float = 0, clipping: Clipping? = nil) -> OptimizerConfig {
        OptimizerConfig(name: .adam, algorithm: .adam(beta1: beta1, beta2: beta2, epsilon: epsilon),
                        learningRate: .constant(learningRate), weightDecay: weightDecay, clipping: clipping)
    }

    /// Adam with Keras's decoupled weight decay (AdamW's default 0.004).
    public static func adamW(learningRate: Float = adamLearningRate, weightDecay: Float = adamWWeightDecay,
                             beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Float = 1e-7,
                             clipping: Clipping? = nil) -> OptimizerConfig {
        OptimizerConfig(name: .adamw, algorithm: .adam(beta1: beta1, beta2: beta2, epsilon: epsilon),
                        learningRate: .constant(learningRate), weightDecay: weightDecay, clipping: clipping)
    }

    public static func rmsprop(learningRate: Float = rmspropLearningRate, rho: Double = 0.9, momentum: Float = 0,
                               epsilon: Float = 1e-7, centered: Bool = false, weightDecay: Float = 0,
                               clipping: Clipping? = nil) -> OptimizerConfig {
        OptimizerConfig(name: .rmsprop, algorithm: .rmsprop(rho: rho, momentum: momentum, epsilon: epsilon,
                                                            centered: centered),
                        learningRate: .constant(learningRate), weightDecay: weightDecay, clipping: clipping)
    }

    /// The optimizer called `name` ("sgd", "adam", "adamw", "rmsprop") with
    /// Keras's defaults.
    public static func defaults(_ name: Name) -> OptimizerConfig {
        switch name {
        case .sgd: .sgd()
        case .adam: .adam()
        case .adamw: .adamW()
        case .rmsprop: .rmsprop()
        }
    }

    /// Refuses values Keras would accept but that cannot train: a learning
    /// rate that is not finite and positive, momentum, betas or rho outside
    /// [0, 1), an epsilon that is not positive, a negative weight decay or
    /// clipping threshold.
    public func validate() throws {
        switch learningRate {
        case .constant(let lr):
            guard lr.isFinite && lr > 0 else { throw GraftError.invalidArgument("learning_rate must be finite and positive, not \(lr)") }
        case .schedule(let schedule):
            try schedule.validate()
        }
        func checkEpsilon(_ epsilon: Float) throws {
            guard epsilon.isFinite && epsilon > 0 else { throw GraftError.invalidArgument("epsilon must be finite and positive, not \(epsilon)") }
        }
        func checkMomentum(_ momentum: Float) throws {
            guard momentum >= 0 && momentum < 1 else { throw GraftError.invalidArgument("momentum must be in [0, 1), not \(momentum)") }
        }
        switch algorithm {
        case let .sgd(momentum, _):
            try checkMomentum(momentum)
        case let .adam(beta1, beta2, epsilon):
            guard beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 else {
                throw GraftError.invalidArgument("beta_1 and beta_2 must be in [0, 1), not \(beta1), \(beta2)")
            }
            try checkEpsilon(epsilon)
        case let .rmsprop(rho, momentum, epsilon, _):
            guard rho >= 0 && rho < 1 else { throw GraftError.invalidArgument("rho must be in [0, 1), not \(rho)") }
            try checkMomentum(momentum)
            try checkEpsilon(epsilon)
        }
        guard weightDecay.isFinite && weightDecay >= 0 else {
            throw GraftError.invalidArgument("weight_decay must be finite and at least 0, not \(weightDecay)")
        }
        if let clipping {
            let (name, threshold): (String, Float)
            switch clipping {
            case .norm(let c): (name, threshold) = ("clipnorm", c)
            case .globalNorm(let c): (name, threshold) = ("global_clipnorm", c)
            case .value(let c): (name, threshold) = ("clipvalue", c)
            }
            guard threshold.isFinite && threshold > 0 else {
                throw GraftError.invalidArgument("\(name) must be finite and positive, not \(threshold)")
            }
        }
    }

    /// Whether a step needs every gradient before it updates any weight
    /// (global norm clipping), rather than a layer's at a time.
    public var needsWholeGradient: Bool {
        if case .globalNorm = clipping { return true }
        return false
    }
}

/// An optimizer and its state (slots, step count). Compiling a model makes
/// a new one, so recompiling resets the state, as in Keras.
public final class Optimizer {
    public private(set) var config: OptimizerConfig
    /// Steps applied so far (Keras's `iterations`).
    public private(set) var iterations = 0
    /// Per weight tensor: SGD's velocity, Adam's m and v, RMSprop's
    /// velocity (then its momentum and average gradient when used).
    private var slots: [ObjectIdentifier: [Tensor]] = [:]
    /// The current step's learning rate and gradient scale (global norm
    /// clipping), set by `beginStep`.
    private var stepRate: Float = 0
    private var stepScale: Float?

    public init(_ config: OptimizerConfig) throws {
        try config.validate()
        self.config = config
    }

    /// The learning rate of the next step (a schedule's at `iterations`).
    public var learningRate: Float { config.learningRate.rate(atStep: iterations) }

    /// Sets a constant learning rate (as Keras's `optimizer.learning_rate =`),
    /// keeping the optimizer's state. Refused when the rate is a schedule,
    /// as Keras refuses it.
    public func setLearningRate(_ rate: Float) throws {
        if case .schedule = config.learningRate {
            throw GraftError(.state, "the optimizer's learning rate is a schedule (\(config.name.className) was compiled with a LearningRateSchedule), so it cannot be set; compile with a number to set it")
        }
        var changed = config
        changed.learningRate = .constant(rate)
        try changed.validate()
        config = changed
    }

    /// One whole step: every trainable weight's (weight, gradient) pair.
    /// Each tensor is cut into ranges over `threads` threads (the update is
    /// elementwise, so the result does not depend on the cut).
    public func apply(_ pairs: [(weight: Tensor, gradient: Tensor)], threads: Int = 1) {
        beginStep()
        if config.needsWholeGradient, case .globalNorm(let c)? = config.clipping {
            // Keras: scale = c·min(1/‖g‖, 1/c), NaN when the norm is not finite.
            let norm = Float(pairs.reduce(0.0) { $0 + squaredSum($1.gradient) }.squareRoot())
            stepScale = norm.isFinite ? c * min(1 / norm, 1 / c) : .nan
        }
        update(pairs, threads: threads)
    }

    /// Starts a step whose pairs then come in parts (`update`), as a
    /// backward pass produces them layer by layer; not for global norm
    /// clipping, which needs every gradient at once (`apply`).
    public func beginStep() {
        stepRate = learningRate
        stepScale = nil
        iterations += 1
    }

    /// Applies the current step (`beginStep`) to some of its pairs; each
    /// weight must come once per step.
    public func update(_ pairs: [(weight: Tensor, gradient: Tensor)], threads: Int = 1) {
        precondition(iterations > 0, "update before beginStep")
        precondition(!config.needsWholeGradient || stepScale != nil, "global norm clipping needs apply, not update")
        for (weight, gradient) in pairs {
            let slots = state(for: weight)
            let clipped = clip(gradient, threads: threads)
            Parallel.forRanges(weight.count, threads: threads) { range, _ in
                decay(weight, range: range)
                updateRange(weight, clipped, slots: slots, range: range)
            }
        }
    }

    private func squaredSum(_ tensor: Tensor) -> Double {
        var sum = 0.0
        for i in 0..<tensor.count { sum += Double(tensor.data[i]) * Double(tensor.data[i]) }
        return sum
    }

    /// The gradient as the step uses it: `gradient` itself, or a clipped
    /// copy (Keras's arithmetic: (g·c)/max(‖g‖, c) for a norm, g·scale for
    /// the global norm, min(max(g, −c), c) for a value).
    private func clip(_ gradient: Tensor, threads: Int) -> Tensor {
        guard let clipping = config.clipping else { return gradient }
        let clipped = Tensor(shape: gradient.shape), g = gradient.data, out = clipped.data
        switch clipping {
        case .norm(let c):
            let sum = squaredSum(gradient)
            let norm = sum > 0 ? Float(sum.squareRoot()) : 0, denominator = max(norm, c)
            Parallel.forRanges(gradient.count, threads: threads) { r, _ in
                for i in r { out[i] = (g[i] * c) / denominator }
            }
        case .globalNorm:
            let scale = stepScale!
            Parallel.forRanges(gradient.count, threads: threads) { r, _ in
                for i in r { out[i] = g[i] * scale }
            }
        case .value(let c):
            Parallel.forRanges(gradient.count, threads: threads) { r, _ in
                for i in r { out[i] = min(max(g[i], -c), c) }
            }
        }
        return clipped
    }

    /// Keras's decoupled weight decay, before the update: w −= (w·wd)·lr.
    private func decay(_ weight: Tensor, range: Range<Int>) {
        let wd = config.weightDecay, lr = stepRate, w = weight.data
        guard wd > 0 else { return }
        for i in range { w[i] -= (w[i] * wd) * lr }
    }

    /// Keras's names of the slots each weight has, in the order of its
    /// slots: SGD's "momentum" (with momentum), Adam's "momentum" (m) and
    /// "velocity" (v), RMSprop's "velocity", "momentum" (with momentum) and
    /// "average_gradient" (centered).
    public var slotNames: [String] {
        switch config.algorithm {
        case let .sgd(momentum, _): momentum == 0 ? [] : ["momentum"]
        case .adam: ["momentum", "velocity"]
        case let .rmsprop(_, momentum, _, centered):
            ["velocity"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["average_gradient"] : [])
        }
    }

    /// The slots of `weight` (`slotNames`' order), nil before its first step.
    public func slots(of weight: Tensor) -> [Tensor]? { slots[ObjectIdentifier(weight)] }

    /// Puts back the state of an optimizer that took `iterations` steps:
    /// the slots of each weight that had them (a saved model resuming).
    public func restore(iterations: Int, slots saved: [(weight: Tensor, slots: [Tensor])]) throws {
        guard iterations >= 0, saved.allSatisfy({ $0.slots.count == slotNames.count }) else {
            throw GraftError.invalidArgument("optimizer state for another optimizer")
        }
        self.iterations = iterations
        slots = [:]
        for (weight, values) in saved { slots[ObjectIdentifier(weight)] = values }
    }

    /// The optimizer's slots for `weight`, made (as zeros) on first use.
    private func state(for weight: Tensor) -> [Tensor] {
        let key = ObjectIdentifier(weight)
        if let existing = slots[key] { return existing }
        let created = slotNames.map { _ in Tensor(shape: weight.shape) }
        slots[key] = created
        return created
    }

    private func updateRange(_ weight: Tensor, _ gradient: Tensor, slots: [Tensor], range: Range<Int>) {
        let w = weight.data, g = gradient.data, lr = stepRate
        let at = range.lowerBound
        switch config.algorithm {
        case let .sgd(momentum, nesterov):
            guard momentum != 0 else {
                for i in range { w[i] -= g[i] * lr }
                return
            }
            let v = slots[0].data
            // Two loops rather than a choice per element, so that each vectorises.
            if nesterov {
                for i in range {
                    v[i] = -g[i] * lr + v[i] * momentum
                    w[i] += -g[i] * lr + v[i] * momentum
                }
            } else {
                for i in range {
                    v[i] = -g[i] * lr + v[i] * momentum
                    w[i] += v[i]
                }
            }
        case let .adam(beta1, beta2, epsilon):
            let m = slots[0].data, v = slots[1].data
            let step = Float(iterations)
            let alpha = lr * (1 - pow(Float(beta2), step)).squareRoot() / (1 - pow(Float(beta1), step))
            let keep1 = Float(1 - beta1), keep2 = Float(1 - beta2)
            graft_adam_update(range.count, w + at, g + at, m + at, v + at, keep1, keep2, alpha, epsilon)
        case let .rmsprop(rho, momentum, epsilon, centered):
            // slotNames' order: velocity, momentum, average_gradient.
            let v = slots[0].data
            let m = momentum > 0 ? slots[1].data + at : nil
            let a = centered ? slots[slots.count - 1].data + at : nil
            graft_rmsprop_update(range.count, w + at, g + at, v + at, a, m, Float(rho), Float(1 - rho), momentum, lr,
                                 epsilon)
        }
    }
}
