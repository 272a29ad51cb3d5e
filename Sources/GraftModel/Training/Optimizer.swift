import Glibc
import GraftKernels

/// Keras's optimizers, with its defaults and its update formulas (float32,
/// in Keras's order of operations).
public enum OptimizerConfig: Equatable {
    /// v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g).
    case sgd(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false)
    /// m += (g − m)(1 − β1); v += (g² − v)(1 − β2);
    /// w −= α·m/(sqrt(v) + ε), α = lr·sqrt(1 − β2^t)/(1 − β1^t).
    /// The betas are kept in double, as Keras keeps them (Python floats):
    /// 1 − β is formed in double and then rounded, and β^t in float32.
    case adam(learningRate: Float = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Float = 1e-7)

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

    /// Applies one step to every (weight, gradient) pair.
    public func apply(_ pairs: [(weight: Tensor, gradient: Tensor)]) {
        iterations += 1
        for (weight, gradient) in pairs { update(weight, gradient) }
    }

    private func state(for weight: Tensor, count: Int) -> [Tensor] {
        let key = ObjectIdentifier(weight)
        if let existing = slots[key] { return existing }
        let created = (0..<count).map { _ in Tensor(shape: weight.shape) }
        slots[key] = created
        return created
    }

    private func update(_ weight: Tensor, _ gradient: Tensor) {
        let w = weight.data, g = gradient.data, n = weight.count
        switch config {
        case let .sgd(lr, momentum, nesterov):
            guard momentum != 0 else {
                for i in 0..<n { w[i] -= g[i] * lr }
                return
            }
            let v = state(for: weight, count: 1)[0].data
            for i in 0..<n {
                v[i] = -g[i] * lr + v[i] * momentum
                w[i] += nesterov ? -g[i] * lr + v[i] * momentum : v[i]
            }
        case let .adam(lr, beta1, beta2, epsilon):
            let slots = state(for: weight, count: 2)
            let m = slots[0].data, v = slots[1].data
            let step = Float(iterations)
            let alpha = lr * (1 - pow(Float(beta2), step)).squareRoot() / (1 - pow(Float(beta1), step))
            let keep1 = Float(1 - beta1), keep2 = Float(1 - beta2)
            for i in 0..<n {
                m[i] += (g[i] - m[i]) * keep1
                v[i] += (g[i] * g[i] - v[i]) * keep2
                w[i] -= (m[i] * alpha) / (v[i].squareRoot() + epsilon)
            }
        }
    }
}
