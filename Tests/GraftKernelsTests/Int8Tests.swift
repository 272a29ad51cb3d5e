import GraftKernels
import Testing

// Graft's int8 GEMM (AVX512_VNNI): A rounded to bytes 0...255 by one scale,
// B to bytes -127...127 by a scale per column, products summed exactly in
// int32, the sum scaled back in float32. Checked against the same
// arithmetic in plain loops (equal, bit for bit) and against float32's
// product (within the rounding of the two quantizations).

/// An m×k A with values from 0 to twice `range` (so that some are held to
/// byte 255), a k×n B, bias and residual.
private struct Int8Case {
    let m = 29, k = 45, n = 64, range: Float = 1.5
    let a: Tensor, b: Tensor, bias: Tensor, residual: Tensor

    init() {
        var random = TestRandom(71)
        a = random.tensor([m * k])
        for i in 0..<a.count { a.data[i] = (a.data[i] + 1) * range }
        b = random.tensor([k * n])
        bias = random.tensor([n])
        residual = random.tensor([m * n])
    }

    /// A's byte for x, as the kernel rounds it: to nearest even, held to
    /// 0...255.
    func byte(_ x: Float) -> Float { min(max((x * (255 / range)).rounded(.toNearestOrEven), 0), 255) }

    /// B's column scale: the column's largest magnitude over 127.
    func columnScale(_ j: Int) -> Float { (0..<k).map { abs(b.data[$0 * n + j]) }.max()! / 127 }
}

@Test("the int8 GEMM is the exact integer product of the rounded operands, scaled back, bit for bit",
      .enabled(if: PackedKernel.isAvailable(.int8)))
func int8ProductIsExact() throws {
    let t = Int8Case()
    let packed = try #require(PackedKernel.pack(t.b.data, rows: t.k, columns: t.n, precision: .int8,
                                                inputRange: t.range))
    let c = Tensor(shape: [t.m * t.n])
    packed.multiply(rows: t.m, a: t.a.data, lda: t.k, c: c.data, ldc: t.n,
                    epilogue: Epilogue(bias: t.bias.data, residual: t.residual.data, relu: true))
    var expected = [Float](repeating: 0, count: t.m * t.n)
    for j in 0..<t.n {
        let scale = t.columnScale(j)
        let combined = scale * (t.range / 255)
        for r in 0..<t.m {
            var sum = 0
            for i in 0..<t.k {
                let qb = (t.b.data[i * t.n + j] / scale).rounded(.toNearestOrEven)
                sum += Int(t.byte(t.a.data[r * t.k + i])) * Int(qb)
            }
            let y = Float(sum) * combined + t.bias.data[j] + t.residual.data[r * t.n + j]
            expected[r * t.n + j] = max(0, y)
        }
    }
    #expect(c.array == expected)
    #expect(c.array.contains(0) && c.array.contains { $0 > 0 })
}

@Test("int8 products stay within the two roundings' bound of float32's",
      .enabled(if: PackedKernel.isAvailable(.int8)))
func int8ProductIsNearFloat32() throws {
    let t = Int8Case()
    // Within A's range only: values past it are held to byte 255 on purpose.
    for i in 0..<t.a.count { t.a.data[i] = min(t.a.data[i], t.range) }
    let packed = try #require(PackedKernel.pack(t.b.data, rows: t.k, columns: t.n, precision: .int8,
                                                inputRange: t.range))
    let c = Tensor(shape: [t.m * t.n])
    packed.multiply(rows: t.m, a: t.a.data, lda: t.k, c: c.data, ldc: t.n)
    let stepA = Double(t.range) / 255
    for r in 0..<t.m {
        for j in 0..<t.n {
            let stepB = Double(t.columnScale(j))
            var exact = 0.0, bound = 0.0
            for i in 0..<t.k {
                let x = Double(t.a.data[r * t.k + i]), w = Double(t.b.data[i * t.n + j])
                exact += x * w
                // |x̂ŵ - xw| ≤ |x|·δw + |w|·δx + δx·δw, each rounding at most half a step.
                bound += abs(x) * stepB / 2 + abs(w) * stepA / 2 + stepA * stepB / 4
            }
            // Plus float32's rounding of the scaling, relative to the sum's size.
            bound += (abs(exact) + bound) * 0x1p-22
            #expect(abs(Double(c.data[r * t.n + j]) - exact) <= bound, "row \(r), column \(j)")
        }
    }
}

@Test("int8 applies only with A's range, positive and finite", .enabled(if: PackedKernel.isAvailable(.int8)))
func int8NeedsItsRange() {
    let t = Int8Case()
    for range: Float? in [nil, 0, -1, .infinity, .nan] {
        #expect(PackedKernel.pack(t.b.data, rows: t.k, columns: t.n, precision: .int8, inputRange: range) == nil)
    }
}

@Test("extremes finds the smallest and largest value in whole vectors and the tail, and reports a NaN",
      arguments: [1, 15, 16, 17, 100])
func extremesOfValues(count: Int) {
    var random = TestRandom(73)
    let values = (0..<count).map { _ in random.next() * 10 }
    let found = values.withUnsafeBufferPointer { extremes($0) }
    #expect(found.low == values.min()! && found.high == values.max()!)
    for position in [0, count - 1] {
        var withNaN = values
        withNaN[position] = .nan
        #expect(withNaN.withUnsafeBufferPointer { extremes($0) }.low.isNaN, "NaN at \(position) of \(count)")
    }
}
