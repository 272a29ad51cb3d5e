import CBLAS

/// C = A·B (+ C when `accumulate`), row-major, through OpenBLAS.
/// A is m×k with row stride lda, B is k×n with row stride ldb, C is m×n with
/// row stride ldc.
@inline(__always)
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int,
                 b: UnsafePointer<Float>, ldb: Int,
                 c: UnsafeMutablePointer<Float>, ldc: Int,
                 accumulate: Bool = false) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                Int32(m), Int32(n), Int32(k),
                1, a, Int32(lda), b, Int32(ldb),
                accumulate ? 1 : 0, c, Int32(ldc))
}
