import GraftFoundation
import GraftKernels

extension SplitMix64 {
    /// Keras's GlorotUniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
    mutating func fillGlorotUniform(_ t: Tensor, fanIn: Int, fanOut: Int) {
        let limit = (6 / Float(fanIn + fanOut)).squareRoot()
        for i in 0..<t.count { t.data[i] = (2 * nextUnitFloat() - 1) * limit }
    }
}
