/// The per-block transforms of Winograd's minimal filtering F(m×m, 3x3)
/// (Lavin & Gray, 2015), for the two tilings `Winograd3x3` runs, eight
/// channels at a time. Every 2-D transform X ↦ T X Tᵀ is the 1-D one on
/// the block's columns, then on the rows of the result.
///
///   F(2x2, 3x3): Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
///                G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
///                Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]
///   F(4x4, 3x3): Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
///                      [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
///                G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙],
///                      [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
///                Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
///
/// (interpolation points 0, ±1, ±2 and ∞ for F(4x4)).
enum WinogradTransforms {
    typealias V = SIMD8<Float>

    // MARK: 1-D transforms

    /// Bᵀ of F(2x2) on four values.
    @inline(__always) static func bt4(_ a: V, _ b: V, _ c: V, _ d: V) -> (V, V, V, V) {
        (a - c, b + c, c - b, b - d)
    }

    /// Bᵀ of F(4x4) on six values.
    @inline(__always) static func bt6(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V) {
        let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
        return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
    }

    /// Aᵀ of F(2x2) on four values.
    @inline(__always) static func at4(_ a: V, _ b: V, _ c: V, _ d: V) -> (V, V) {
        (a + b + c, b - c - d)
    }

    /// Aᵀ of F(4x4) on six values.
    @inline(__always) static func at6(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V) -> (V, V, V, V) {
        let p = m1 + m2, q = m1 - m2, r = m3 + m4, s = m3 - m4
        return (m0 + p + r, q + 2 * s, p + 4 * r, q + 8 * s + m5)
    }

    /// A of F(2x2) (Aᵀ's adjoint) on two values.
    @inline(__always) static func a2(_ p: V, _ q: V) -> (V, V, V, V) { (p, p + q, p - q, -q) }

    /// A of F(4x4) on four values.
    @inline(__always) static func a4(_ y0: V, _ y1: V, _ y2: V, _ y3: V) -> (V, V, V, V, V, V) {
        let even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd2 = 2 * y1 + 8 * y3
        return (y0, even + odd, even - odd, even4 + odd2, even4 - odd2, y3)
    }

    /// G of F(2x2) on three values.
    @inline(__always) static func g4(_ a: V, _ b: V, _ c: V) -> (V, V, V, V) {
        (a, (a + b + c) * 0.5, (a - b + c) * 0.5, c)
    }

    /// G of F(4x4) on three values.
    @inline(__always) static func g6(_ a: V, _ b: V, _ c: V) -> (V, V, V, V, V, V) {
        let outer = a + c, quarter = a * (1.0 / 24) + c * (1.0 / 6), twelfth = b * (1.0 / 12)
        return (a * 0.25, (outer + b) * (-1.0 / 6), (outer - b) * (-1.0 / 6), quarter + twelfth, quarter - twelfth, c)
    }

    /// Gᵀ of F(2x2) (G's adjoint) on four values.
    @inline(__always) static func gt4(_ w: V, _ x: V, _ y: V, _ z: V) -> (V, V, V) {
        let half = (x + y) * 0.5
        return (w + half, (x - y) * 0.5, half + z)
    }

    /// Gᵀ of F(4x4) on six values.
    @inline(__always) static func gt6(_ u0: V, _ u1: V, _ u2: V, _ u3: V, _ u4: V, _ u5: V) -> (V, V, V) {
        let sixth = (u1 + u2) * (-1.0 / 6), sum34 = u3 + u4
        return (u0 * 0.25 + sixth + sum34 * (1.0 / 24), (u2 - u1) * (1.0 / 6) + (u3 - u4) * (1.0 / 12),
                sixth + sum34 * (1.0 / 6) + u5)
    }

    // MARK: Kernel: U = G g Gᵀ, and its adjoint dg = Gᵀ dU G

    /// U for the eight output channels from `ko` on: tap t of the kernel at
    /// `taps + (t·tapStride + ko)` floats, matrix ξ of U stored at
    /// `out + (ξ·tapStride + column)`.
    @inline(__always)
    static func kernel(_ tile: WinogradTile, taps: UnsafeRawPointer, out: UnsafeMutableRawPointer,
                       tapStride: Int, at ko: Int, storedAt column: Int) {
        @inline(__always) func tap(_ t: Int) -> V {
            taps.loadUnaligned(fromByteOffset: (t * tapStride + ko) * 4, as: V.self)
        }
        @inline(__always) func store(_ xi: Int, _ value: V) {
            out.storeBytes(of: value, toByteOffset: (xi * tapStride + column) * 4, as: V.self)
        }
        switch tile {
        case .f2x2:
            let c0 = g4(tap(0), tap(3), tap(6)), c1 = g4(tap(1), tap(4), tap(7)), c2 = g4(tap(2), tap(5), tap(8))
            @inline(__always) func row(_ i: Int, _ x: V, _ y: V, _ z: V) {
                let r = g4(x, y, z)
                store(4 * i, r.0); store(4 * i + 1, r.1); store(4 * i + 2, r.2); store(4 * i + 3, r.3)
            }
            row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2); row(3, c0.3, c1.3, c2.3)
        case .f4x4:
            let c0 = g6(tap(0), tap(3), tap(6)), c1 = g6(tap(1), tap(4), tap(7)), c2 = g6(tap(2), tap(5), tap(8))
            @inline(__always) func row(_ i: Int, _ x: V, _ y: V, _ z: V) {
                let r = g6(x, y, z)
                store(6 * i, r.0); store(6 * i + 1, r.1); store(6 * i + 2, r.2)
                store(6 * i + 3, r.3); store(6 * i + 4, r.4); store(6 * i + 5, r.5)
            }
            row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
        }
    }

    /// dg += Gᵀ dU G for the eight output channels from `ko` on: matrix ξ
    /// of dU at `dU + (ξ·tapStride + ko)` floats, tap t of the kernel
    /// gradient at `dKernel + (t·tapStride + ko)`.
    @inline(__always)
    static func kernelGradient(_ tile: WinogradTile, dU: UnsafeRawPointer, dKernel: UnsafeMutableRawPointer,
                               tapStride: Int, at ko: Int) {
        @inline(__always) func load(_ xi: Int) -> V {
            dU.loadUnaligned(fromByteOffset: (xi * tapStride + ko) * 4, as: V.self)
        }
        @inline(__always) func add(_ t: Int, _ value: V) {
            let offset = (t * tapStride + ko) * 4
            dKernel.storeBytes(of: dKernel.loadUnaligned(fromByteOffset: offset, as: V.self) + value,
                               toByteOffset: offset, as: V.self)
        }
        @inline(__always) func addRow(_ i: Int, _ taps: (V, V, V)) {
            add(3 * i, taps.0); add(3 * i + 1, taps.1); add(3 * i + 2, taps.2)
        }
        switch tile {
        case .f2x2:
            let c0 = gt4(load(0), load(4), load(8), load(12)), c1 = gt4(load(1), load(5), load(9), load(13))
            let c2 = gt4(load(2), load(6), load(10), load(14)), c3 = gt4(load(3), load(7), load(11), load(15))
            addRow(0, gt4(c0.0, c1.0, c2.0, c3.0))
            addRow(1, gt4(c0.1, c1.1, c2.1, c3.1))
            addRow(2, gt4(c0.2, c1.2, c2.2, c3.2))
        case .f4x4:
            @inline(__always) func column(_ j: Int) -> (V, V, V) {
                gt6(load(j), load(6 + j), load(12 + j), load(18 + j), load(24 + j), load(30 + j))
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
            addRow(0, gt6(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            addRow(1, gt6(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            addRow(2, gt6(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
        }
    }

    // MARK: Input: V = Bᵀ d B

    /// V for one block, whose input pixels (row-major; a zero vector for
    /// padding) are at `d`: element ξ of the transformed block goes to
    /// `out + ξ·matrixStride`.
    @inline(__always)
    static func input(_ tile: WinogradTile, _ d: UnsafePointer<UnsafeRawPointer>, channels: Int,
                      into out: UnsafeMutablePointer<Float>, matrixStride: Int) {
        let dst = UnsafeMutableRawPointer(out)
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ i: Int) -> V { d[i].loadUnaligned(fromByteOffset: offset, as: V.self) }
            @inline(__always) func store(_ xi: Int, _ value: V) {
                dst.storeBytes(of: value, toByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            switch tile {
            case .f2x2:
                let c0 = bt4(load(0), load(4), load(8), load(12)), c1 = bt4(load(1), load(5), load(9), load(13))
                let c2 = bt4(load(2), load(6), load(10), load(14)), c3 = bt4(load(3), load(7), load(11), load(15))
                @inline(__always) func row(_ i: Int, _ r: (V, V, V, V)) {
                    store(4 * i, r.0); store(4 * i + 1, r.1); store(4 * i + 2, r.2); store(4 * i + 3, r.3)
                }
                row(0, bt4(c0.0, c1.0, c2.0, c3.0))
                row(1, bt4(c0.1, c1.1, c2.1, c3.1))
                row(2, bt4(c0.2, c1.2, c2.2, c3.2))
                row(3, bt4(c0.3, c1.3, c2.3, c3.3))
            case .f4x4:
                @inline(__always) func column(_ j: Int) -> (V, V, V, V, V, V) {
                    bt6(load(j), load(6 + j), load(12 + j), load(18 + j), load(24 + j), load(30 + j))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                @inline(__always) func row(_ i: Int, _ r: (V, V, V, V, V, V)) {
                    store(6 * i, r.0); store(6 * i + 1, r.1); store(6 * i + 2, r.2)
                    store(6 * i + 3, r.3); store(6 * i + 4, r.4); store(6 * i + 5, r.5)
                }
                row(0, bt6(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
                row(1, bt6(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                row(2, bt6(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
                row(3, bt6(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
                row(4, bt6(c0.4, c1.4, c2.4, c3.4, c4.4, c5.4))
                row(5, bt6(c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
            }
        }
    }

    // MARK: Output: Y = Aᵀ m A, and its adjoint dM = A dY Aᵀ

    /// Y for one block from element ξ of its products at `m + ξ·matrixStride`:
    /// the output pixels, written to `targets` (row-major; nil for a pixel
    /// past the image's edge).
    @inline(__always)
    static func output(_ tile: WinogradTile, _ m: UnsafePointer<Float>, matrixStride: Int, channels: Int,
                       into targets: UnsafePointer<UnsafeMutableRawPointer?>) {
        let src = UnsafeRawPointer(m)
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ xi: Int) -> V {
                src.loadUnaligned(fromByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            @inline(__always) func store(_ pixel: Int, _ value: V) {
                targets[pixel]?.storeBytes(of: value, toByteOffset: offset, as: V.self)
            }
            switch tile {
            case .f2x2:
                let c0 = at4(load(0), load(4), load(8), load(12)), c1 = at4(load(1), load(5), load(9), load(13))
                let c2 = at4(load(2), load(6), load(10), load(14)), c3 = at4(load(3), load(7), load(11), load(15))
                let r0 = at4(c0.0, c1.0, c2.0, c3.0), r1 = at4(c0.1, c1.1, c2.1, c3.1)
                store(0, r0.0); store(1, r0.1); store(2, r1.0); store(3, r1.1)
            case .f4x4:
                @inline(__always) func column(_ j: Int) -> (V, V, V, V) {
                    at6(load(j), load(6 + j), load(12 + j), load(18 + j), load(24 + j), load(30 + j))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                @inline(__always) func row(_ i: Int, _ r: (V, V, V, V)) {
                    store(4 * i, r.0); store(4 * i + 1, r.1); store(4 * i + 2, r.2); store(4 * i + 3, r.3)
                }
                row(0, at6(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
                row(1, at6(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                row(2, at6(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
                row(3, at6(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
            }
        }
    }

    /// dM for one block, the adjoint of `output`: its output gradient
    /// pixels at `dy` (row-major; a zero vector past the edge) to element ξ
    /// at `out + ξ·matrixStride`.
    @inline(__always)
    static func outputGradient(_ tile: WinogradTile, _ dy: UnsafePointer<UnsafeRawPointer>, channels: Int,
                               into out: UnsafeMutablePointer<Float>, matrixStride: Int) {
        let dst = UnsafeMutableRawPointer(out)
        for c in stride(from: 0, to: channels, by: 8) {
            let offset = c * 4
            @inline(__always) func load(_ i: Int) -> V { dy[i].loadUnaligned(fromByteOffset: offset, as: V.self) }
            @inline(__always) func store(_ xi: Int, _ value: V) {
                dst.storeBytes(of: value, toByteOffset: xi * matrixStride * 4 + offset, as: V.self)
            }
            switch tile {
            case .f2x2:
                let c0 = a2(load(0), load(2)), c1 = a2(load(1), load(3))
                @inline(__always) func row(_ i: Int, _ r: (V, V, V, V)) {
                    store(4 * i, r.0); store(4 * i + 1, r.1); store(4 * i + 2, r.2); store(4 * i + 3, r.3)
                }
                row(0, a2(c0.0, c1.0)); row(1, a2(c0.1, c1.1)); row(2, a2(c0.2, c1.2)); row(3, a2(c0.3, c1.3))
            case .f4x4:
                @inline(__always) func column(_ j: Int) -> (V, V, V, V, V, V) {
                    a4(load(j), load(4 + j), load(8 + j), load(12 + j))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                @inline(__always) func row(_ i: Int, _ r: (V, V, V, V, V, V)) {
                    store(6 * i, r.0); store(6 * i + 1, r.1); store(6 * i + 2, r.2)
                    store(6 * i + 3, r.3); store(6 * i + 4, r.4); store(6 * i + 5, r.5)
                }
                row(0, a4(c0.0, c1.0, c2.0, c3.0))
                row(1, a4(c0.1, c1.1, c2.1, c3.1))
                row(2, a4(c0.2, c1.2, c2.2, c3.2))
                row(3, a4(c0.3, c1.3, c2.3, c3.3))
                row(4, a4(c0.4, c1.4, c2.4, c3.4))
                row(5, a4(c0.5, c1.5, c2.5, c3.5))
            }
        }
    }
}
