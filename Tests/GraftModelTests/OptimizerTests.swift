import Foundation
import GraftKernels
import GraftModel
import Testing

// Adam updates its weights in vectors as wide as the CPU runs (C,
// `graft_adam_update`). Each vector operation rounds as its scalar one
// does, so the result must equal Keras's formula
// applied one weight at a time, bit for bit: this test writes that formula
// out in plain loops (as OptimizerConfig documents it) and compares exactly.

@Test("Adam's vector update equals Keras's formula applied one weight at a time, exactly")
func adamMatchesScalarFormula() throws {
    // 203 weights: the compiled loop's vector body (unrolled, up to 64
    // weights a turn) several times, then a scalar tail.
    let count = 203, learningRate: Float = 0.01, epsilon: Float = 1e-7
    let weight = Tensor(shape: [count]), gradient = Tensor(shape: [count])
    var w = (0..<count).map { Float($0) * 0.013 - 0.2 }
    var m = [Float](repeating: 0, count: count), v = [Float](repeating: 0, count: count)
    weight.data.update(from: w, count: count)
    let optimizer = try Optimizer(.adam(learningRate: learningRate, epsilon: epsilon))
    for step in 1...3 {
        let g = (0..<count).map { Float(sin(Double($0 * step + 1))) }
        gradient.data.update(from: g, count: count)
        optimizer.apply([(weight, gradient)], threads: 2)

        let alpha = learningRate * (1 - pow(Float(0.999), Float(step))).squareRoot() / (1 - pow(Float(0.9), Float(step)))
        let keep1 = Float(1 - 0.9), keep2 = Float(1 - 0.999)
        for i in 0..<count {
            m[i] += (g[i] - m[i]) * keep1
            v[i] += (g[i] * g[i] - v[i]) * keep2
            w[i] -= (m[i] * alpha) / (v[i].squareRoot() + epsilon)
        }
        #expect(weight.array == w, "step \(step)")
    }
}

@Test("RMSprop's vector update equals Keras's formula applied one weight at a time, exactly",
      arguments: [(Float(0), false), (0.5, false), (0, true), (0.5, true)])
func rmspropMatchesScalarFormula(momentum: Float, centered: Bool) throws {
    let count = 203, learningRate: Float = 0.01, epsilon: Float = 1e-7, rho = 0.9
    let weight = Tensor(shape: [count]), gradient = Tensor(shape: [count])
    var w = (0..<count).map { Float($0) * 0.013 - 0.2 }
    var v = [Float](repeating: 0, count: count), a = v, m = v
    weight.data.update(from: w, count: count)
    let optimizer = try Optimizer(.rmsprop(learningRate: learningRate, rho: rho, momentum: momentum, epsilon: epsilon,
                                           centered: centered))
    for step in 1...3 {
        let g = (0..<count).map { Float(sin(Double($0 * step + 1))) }
        gradient.data.update(from: g, count: count)
        optimizer.apply([(weight, gradient)], threads: 2)
        for i in 0..<count {
            v[i] = Float(rho) * v[i] + Float(1 - rho) * (g[i] * g[i])
            var denominator = v[i] + epsilon
            if centered {
                a[i] = Float(rho) * a[i] + Float(1 - rho) * g[i]
                denominator = v[i] - a[i] * a[i] + epsilon
            }
            let increment = (learningRate * g[i]) / denominator.squareRoot()
            if momentum > 0 {
                m[i] = momentum * m[i] + increment
                w[i] -= m[i]
            } else {
                w[i] -= increment
            }
        }
        #expect(weight.array == w, "step \(step)")
    }
}

@Test("weight decay, clipping and a schedule, as Keras's apply orders them, in plain loops")
func decayClippingScheduleMatchFormula() throws {
    let count = 50
    let weights = [Tensor(shape: [count]), Tensor(shape: [count])], gradients = [Tensor(shape: [count]), Tensor(shape: [count])]
    let schedule = LearningRateSchedule.inverseTimeDecay(initialLearningRate: 0.1, decaySteps: 1, decayRate: 1)
    for clipping in [nil, OptimizerConfig.Clipping.norm(0.5), .globalNorm(0.5), .value(0.3)] {
        var w = (0..<2).map { t in (0..<count).map { Float($0 + t) * 0.02 - 0.5 } }
        for t in 0..<2 { weights[t].data.update(from: w[t], count: count) }
        let optimizer = try Optimizer(OptimizerConfig(name: .sgd, algorithm: .sgd(momentum: 0, nesterov: false),
                                                      learningRate: .schedule(schedule), weightDecay: 0.25,
                                                      clipping: clipping))
        for step in 0..<3 {
            let g = (0..<2).map { t in (0..<count).map { Float(cos(Double($0 * (step + 1) + t))) } }
            for t in 0..<2 { gradients[t].data.update(from: g[t], count: count) }
            optimizer.apply([(weights[0], gradients[0]), (weights[1], gradients[1])], threads: 2)
            let lr = 0.1 / (1 + Float(step))
            let norms = g.map { Float($0.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()) }
            let global = Float(norms.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            for t in 0..<2 {
                for i in 0..<count {
                    var gi = g[t][i]
                    switch clipping {
                    case .norm(let c)?: gi = (gi * c) / max(norms[t], c)
                    case .globalNorm(let c)?: gi *= c * min(1 / global, 1 / c)
                    case .value(let c)?: gi = min(max(gi, -c), c)
                    case nil: break
                    }
                    w[t][i] -= (w[t][i] * 0.25) * lr
                    w[t][i] -= gi * lr
                }
                // The norms are summed in another order than here: a rounding or two.
                let worst = zip(weights[t].array, w[t]).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-6, "\(String(describing: clipping)) step \(step) tensor \(t): \(worst)")
            }
        }
    }
}
