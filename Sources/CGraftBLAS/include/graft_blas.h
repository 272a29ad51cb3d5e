/* OpenBLAS, loaded at first use with kernels for the CPU it runs on.
 *
 * Graft does not link OpenBLAS: it loads libopenblas.so.0 at run time, after
 * choosing OpenBLAS's core from the CPU's own features (cpuid) when the user
 * has not set OPENBLAS_CORETYPE. An OpenBLAS older than the CPU (Debian 12's
 * 0.3.21 on recent Xeons) otherwise falls back to its SSE3 kernels, 4-5x
 * slower. */
#ifndef GRAFT_BLAS_H
#define GRAFT_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Loads OpenBLAS (once; thread-safe). Returns NULL when it is loaded, else
 * a message saying why it could not be (static storage). */
const char *graft_blas_load(void);

/* C = alpha·op(A)·op(B) + beta·C, row-major (cblas_sgemm's arguments, the
 * transposes as 0 or 1). graft_blas_load must have succeeded. */
void graft_blas_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc);

/* openblas_set_num_threads; graft_blas_load must have succeeded. */
void graft_blas_set_num_threads(int threads);

/* The core OpenBLAS runs ("SkylakeX", "Haswell", ...), as
 * openblas_get_corename gives it; NULL if not loaded. */
const char *graft_blas_core_name(void);

/* The core Graft asks for on this CPU (the widest vector unit it has that
 * OpenBLAS has kernels for; with a narrower path forced by GRAFT_ISA,
 * Haswell for AVX2 and Prescott for the baseline), or NULL for OpenBLAS's
 * own choice. */
const char *graft_blas_widest_core(void);

#ifdef __cplusplus
}
#endif

#endif
