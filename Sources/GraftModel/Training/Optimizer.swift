import CGraftOptimizer
import Glibc
import GraftFoundation
import GraftKernels

/// Keras's optimizers, with its defaults and its update formulas (float32,
/// in Keras's order of operations).
public enum OptimizerConfig: Equatable {
    /// v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g).
    case sgd(learningRate: Float = OptimizerConfig.sgdLearningRate, momentum: Float = 0, nesterov: Bool = false)
    /// m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
    /// w −= α·m/(sqrt(v) + ε), α = lr·sqrt(1 − β2^t)/(1 − β1^t).
    /// The betas are kept in double, as Keras keeps them (Python floats):
    /// 1 − β is formed in double and then rounded, and β^t in float32.
    case adam(learningRate: Float = OptimizerConfig.adamLearningRate, beta1: Double = 0.9, beta2: Double = 0.999,
              epsilon: Float = 1e-7)

    /// Keras's default learning rates: the one place they are written (the
    /// C ABI's option defaults, the `graft` command and the Python package
    /// all read them from here).
    public static let sgdLearningRate: Float = 0.01
    public static let adamLearningRate: Float = 0.001

    /// The optimizer called `name` ("sgd" or "adam") with Keras's defaults.
    public static func defaults(_ name: String) -> OptimizerConfig? {
        switch name {
        case "sgd": .sgd()
        case "adam": .adam()
        default: nil
        }
    }

    /// Refuses values Keras would accept but that cannot train: a learning
    /// rate that is not finite and positive, momentum or betas outside [0, 1).
    public func validate() throws {
        switch self {
        case let .sgd(lr, momentum, _):
            guard lr.isFinite && lr > 0 else { throw GraftError.invalidArgument("learning_rate must be finite and positive, not \(lr)") }
            guard momentum >= 0 && momentum < 1 else { throw GraftError.invalidArgument("momentum must be in [0, 1), not \(momentum)") }
        case let .adam(lr, beta1, beta2, epsilon):
            guard lr.isFinite && lr > 0 else { throw GraftError.invalidArgument("learning_rate must be finite and positive, not \(lr)") }
            guard beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 else {
                throw GraftError.invalidArgument("beta_1 and beta_2 must be in [0, 1), not \(beta1), \(beta2)")
            }
            guard epsilon.isFinite && epsilon > 0 else { throw GraftError.invalidArgument("epsilon must be finite and positive, not \(epsilon)") }
        }
    }
}

/// An optimizer and its state (momenta, step count). Compiling a model makes
/// a new one, so recompiling resets the state, as in Keras.
public final class Optimizer {
    public let config: OptimizerConfig
    /// Steps applied so far (Keras's `iterations`).
    public private(set) var iterations = 0
    /// Per weight tensor: SGD's velocity, or Adam's m and v.
    private var slots: [ObjectIdentifier: [Tensor]] = [:]

    public init(_ config: OptimizerConfig) throws {
        try config.validate()
        self.config = config
    }

    /// Applies one step to every (weight, gradient) pair, each tensor cut
    /// into ranges over `threads` threads (the update is elementwise, so the
    /// result does not depend on the cut).
    public func apply(_ pairs: [(weight: Tensor, gradient: Tensor)], threads: Int = 1) {
        beginStep()
        update(pairs, threads: threads)
    }

    /// Starts a step whose pairs then come in parts (`update`), as a
    /// backward pass produces them layer by layer.
    public func beginStep() {
        iterations += 1
    }

    /// Applies the current step (`beginStep`) to some of its pairs; each
    /// weight must come once per step.
    public func update(_ pairs: [(weight: Tensor, gradient: Tensor)], threads: Int = 1) {
        precondition(iterations > 0, "update before beginStep")
        for (weight, gradient) in pairs {
            let slots = state(for: weight)
            Parallel.forRanges(weight.count, threads: threads) { range, _ in
                updateRange(weight, gradient, slots: slots, range: range)
            }
        }
    }

    /// The optimizer's slots for `weight`, made (as zeros) on first use.
    private func state(for weight: Tensor) -> [Tensor] {
        let key = ObjectIdentifier(weight)
        if let existing = slots[key] { return existing }
        let count: Int
        switch config {
        case let .sgd(_, momentum, _): count = momentum == 0 ? 0 : 1
        case .adam: count = 2
        }
        let created = (0..<count).map { _ in Tensor(shape: weight.shape) }
        slots[key] = created
        return created
    }

    private func updateRange(_ weight: Tensor, _ gradient: Tensor, slots: [Tensor], range: Range<Int>) {
        let w = weight.data, g = gradient.data
        switch config {
        case let .sgd(lr, momentum, nesterov):
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
        case let .adam(lr, beta1, beta2, epsilon):
            let m = slots[0].data, v = slots[1].data
            let step = Float(iterations)
            let alpha = lr * (1 - pow(Float(beta2), step)).squareRoot() / (1 - pow(Float(beta1), step))
            let keep1 = Float(1 - beta1), keep2 = Float(1 - beta2)
            let at = range.lowerBound
            graft_adam_update(range.count, w + at, g + at, m + at, v + at, keep1, keep2, alpha, epsilon)
        }
    }
}
