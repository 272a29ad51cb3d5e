import CGraftBLAS
import CGraftGEMM

/// C = op(A)·op(B) (+ C when `accumulate`), row-major, through OpenBLAS, where
/// op transposes when asked. op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb
/// and ldc are the row strides of A, B and C as stored.
@inline(__always)
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                 b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 accumulate: Bool = false) {
    BLAS.ensureLoaded()
    graft_blas_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda),
                     b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
}

/// C = Aᵀ·B (+ C when `accumulate`) for A stored k×m and B stored k×n
/// (row-major, row strides lda and ldb): a kernel gradient's product. On
/// Graft's own kernel where it applies (AVX-512 or AVX2, n a multiple of
/// 32), which reads A and B in place: on Winograd's kernel-gradient
/// products, whose operands the transforms have just left in cache, it ran
/// faster than OpenBLAS on one thread, and faster than OpenBLAS's AVX2
/// kernels on every kernel gradient. OpenBLAS's AVX-512 kernels, which pack
/// and block C, are faster where C is large (`largeTransposedProduct` floats and more:
/// conv4_x's and conv5_x's pointwise kernel gradients); they take those
/// products when OpenBLAS runs them (bench/HISTORY.md has the measurements).
/// Elsewhere, OpenBLAS.
public func gemmTransposedA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) {
    if PackedKernel.applies(rows: k, columns: n) && !(BLAS.runsAVX512 && m * n >= largeTransposedProduct) {
        graft_gemm_tn(m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0)
    } else {
        gemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: true, b: b, ldb: ldb, c: c, ldc: ldc,
             accumulate: accumulate)
    }
}

/// The size of C (floats) from which OpenBLAS's AVX-512 kernels take an Aᵀ·B
/// product (see `gemmTransposedA`).
let largeTransposedProduct = 1 << 18
