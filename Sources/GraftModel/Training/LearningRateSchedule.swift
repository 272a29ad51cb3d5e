import Glibc
import GraftFoundation

/// Keras's learning-rate schedules (`keras.optimizers.schedules`): the rate
/// of optimizer step `step` (Keras's `optimizer.iterations` before the step,
/// so the first step takes the rate at 0), computed in float32 in Keras's
/// order of operations.
public enum LearningRateSchedule: Equatable {
    /// initial · decay_rate^(step / decay_steps), the exponent floored with
    /// `staircase`.
    case exponentialDecay(initialLearningRate: Float, decaySteps: Int, decayRate: Float, staircase: Bool = Defaults.staircase)
    /// values[0] while step <= boundaries[0], values[i] while
    /// boundaries[i-1] < step <= boundaries[i], the last value after.
    case piecewiseConstantDecay(boundaries: [Int], values: [Float])
    /// initial / (1 + decay_rate · step / decay_steps), the quotient floored
    /// with `staircase`.
    case inverseTimeDecay(initialLearningRate: Float, decaySteps: Int, decayRate: Float, staircase: Bool = Defaults.staircase)
    /// (initial − end) · (1 − step / decay_steps)^power + end, the step
    /// held at decay_steps; with `cycle`, decay_steps grows to the first
    /// multiple of itself at or past the step instead.
    case polynomialDecay(initialLearningRate: Float, decaySteps: Int, endLearningRate: Float = Defaults.endLearningRate,
                         power: Float = Defaults.power, cycle: Bool = Defaults.cycle)
    /// Linear warm-up from initial to `warmupTarget` over `warmupSteps`
    /// (when a target is given), then from there (or from initial) a
    /// half-cosine over `decaySteps` down to alpha times the rate it started
    /// from, held there after.
    case cosineDecay(initialLearningRate: Float, decaySteps: Int, alpha: Float = Defaults.alpha,
                     warmupTarget: Float? = nil, warmupSteps: Int = Defaults.warmupSteps)

    /// Keras's defaults of the optional arguments: the one place they are
    /// written (the C ABI, the `graft` command and Python read them here).
    public enum Defaults {
        public static let staircase = false
        public static let endLearningRate: Float = 0.0001
        public static let power: Float = 1
        public static let cycle = false
        public static let alpha: Float = 0
        public static let warmupSteps = 0
    }

    /// Keras's class name.
    public var className: String {
        switch self {
        case .exponentialDecay: "ExponentialDecay"
        case .piecewiseConstantDecay: "PiecewiseConstantDecay"
        case .inverseTimeDecay: "InverseTimeDecay"
        case .polynomialDecay: "PolynomialDecay"
        case .cosineDecay: "CosineDecay"
        }
    }

    /// The learning rate of step `step` (0-based).
    public func rate(atStep step: Int) -> Float {
        let s = Float(step)
        switch self {
        case let .exponentialDecay(initial, decaySteps, decayRate, staircase):
            var p = s / Float(decaySteps)
            if staircase { p = p.rounded(.down) }
            return initial * powf(decayRate, p)
        case let .piecewiseConstantDecay(boundaries, values):
            // Keras sums value·[step in range] over the ranges; exactly one is 1.
            let range = boundaries.firstIndex { step <= $0 } ?? boundaries.count
            return values[range]
        case let .inverseTimeDecay(initial, decaySteps, decayRate, staircase):
            var p = s / Float(decaySteps)
            if staircase { p = p.rounded(.down) }
            return initial / (1 + decayRate * p)
        case let .polynomialDecay(initial, decaySteps, end, power, cycle):
            var steps = Float(decaySteps), at = s
            if cycle {
                steps *= at == 0 ? 1 : (at / Float(decaySteps)).rounded(.up)
            } else {
                at = min(at, steps)
            }
            let p = at / steps
            return (initial - end) * powf(1 - p, power) + end
        case let .cosineDecay(initial, decaySteps, alpha, warmupTarget, warmupSteps):
            let steps = Float(decaySteps)
            /// From `from` down to alpha·from along a half-cosine.
            func decay(_ at: Float, from: Float) -> Float {
                let fraction = at / steps
                let cosine = 0.5 * (1 + cosf(Float.pi * fraction))
                return from * (Float(1 - Double(alpha)) * cosine + alpha)
            }
            guard let warmupTarget else { return decay(min(s, steps), from: initial) }
            let warmup = Float(warmupSteps), at = min(s, steps + warmup)
            guard at < warmup else { return decay(at - warmup, from: warmupTarget) }
            return (warmupTarget - initial) * (at / warmup) + initial
        }
    }

    /// Refuses what Keras refuses (decay_steps of 0 or less, boundaries and
    /// values that do not pair up) and what cannot train: rates that are
    /// not finite, boundaries out of order.
    public func validate() throws {
        func check(_ name: String, _ value: Float) throws {
            guard value.isFinite else { throw GraftError.invalidArgument("\(className): \(name) must be finite, not \(value)") }
        }
        func checkSteps(_ decaySteps: Int) throws {
            guard decaySteps > 0 else {
                throw GraftError.invalidArgument("\(className): decay_steps must be > 0, not \(decaySteps)")
            }
        }
        switch self {
        case let .exponentialDecay(initial, decaySteps, decayRate, _), let .inverseTimeDecay(initial, decaySteps, decayRate, _):
            try checkSteps(decaySteps)
            try check("initial_learning_rate", initial)
            try check("decay_rate", decayRate)
        case let .piecewiseConstantDecay(boundaries, values):
            guard values.count == boundaries.count + 1 else {
                throw GraftError.invalidArgument(
                    "PiecewiseConstantDecay: values must have one more element than boundaries (\(values.count) values, \(boundaries.count) boundaries)")
            }
            guard zip(boundaries, boundaries.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw GraftError.invalidArgument("PiecewiseConstantDecay: boundaries must increase, not \(boundaries)")
            }
            for value in values { try check("values", value) }
        case let .polynomialDecay(initial, decaySteps, end, power, _):
            try checkSteps(decaySteps)
            try check("initial_learning_rate", initial)
            try check("end_learning_rate", end)
            try check("power", power)
        case let .cosineDecay(initial, decaySteps, alpha, warmupTarget, warmupSteps):
            try checkSteps(decaySteps)
            try check("initial_learning_rate", initial)
            try check("alpha", alpha)
            if let warmupTarget { try check("warmup_target", warmupTarget) }
            guard warmupSteps >= 0 else {
                throw GraftError.invalidArgument("CosineDecay: warmup_steps must be >= 0, not \(warmupSteps)")
            }
        }
    }
}

/// An optimizer's learning rate: a number, or a schedule of the step.
public enum LearningRate: Equatable {
    case constant(Float)
    case schedule(LearningRateSchedule)

    /// The rate of step `step` (0-based).
    public func rate(atStep step: Int) -> Float {
        switch self {
        case .constant(let rate): rate
        case .schedule(let schedule): schedule.rate(atStep: step)
        }
    }
}
