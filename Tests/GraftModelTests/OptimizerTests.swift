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
