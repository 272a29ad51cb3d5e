/// What is applied to a layer's GEMM output in the same pass over memory:
/// a per-channel bias, a residual tensor of the output's shape (the other
/// input of a ResNet `Add`), then ReLU. Applying them while the rows are still
/// in cache saves one or two full passes over the activation per layer.
public struct Epilogue {
    public var bias: UnsafePointer<Float>?
    public var residual: UnsafePointer<Float>?
    public var relu: Bool

    public init(bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil,
                relu: Bool = false) {
        self.bias = bias
        self.residual = residual
        self.relu = relu
    }

    public var isIdentity: Bool { bias == nil && residual == nil && !relu }

    /// Applies the epilogue to rows [row0, row1) and channels [col0, col1) of
    /// a row-major matrix with `channels` columns.
    @inline(__always)
    public func apply(to out: UnsafeMutablePointer<Float>, channels: Int,
                      rows: Range<Int>, columns: Range<Int>) {
        if isIdentity { return }
        for r in rows {
            let rowOut = out + r * channels + columns.lowerBound
            let rowResidual = residual.map { $0 + r * channels + columns.lowerBound }
            let rowBias = bias.map { $0 + columns.lowerBound }
            applyRow(rowOut, bias: rowBias, residual: rowResidual, count: columns.count)
        }
    }

    @inline(__always)
    private func applyRow(_ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                          residual: UnsafePointer<Float>?, count: Int) {
        typealias V = SIMD8<Float>
        let raw = UnsafeMutableRawPointer(out)
        var j = 0
        while j + 8 <= count {
            var v = raw.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            if let bias { v += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: j * 4, as: V.self) }
            if let residual { v += UnsafeRawPointer(residual).loadUnaligned(fromByteOffset: j * 4, as: V.self) }
            if relu { v.replace(with: 0, where: v .< 0) }
            raw.storeBytes(of: v, toByteOffset: j * 4, as: V.self)
            j += 8
        }
        while j < count {
            var x = out[j]
            if let bias { x += bias[j] }
            if let residual { x += residual[j] }
            if relu && x < 0 { x = 0 }
            out[j] = x
            j += 1
        }
    }
}
