import CBLAS

/// C = op(A)·op(B) (+ C when `accumulate`), row-major, through OpenBLAS, where
/// op transposes when asked. op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb
/// and ldc are the row strides of A, B and C as stored.
@inline(__always)
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                 b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 accumulate: Bool = false) {
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k),
                1, a, Int32(lda), b, Int32(ldb),
                accumulate ? 1 : 0, c, Int32(ldc))
}
