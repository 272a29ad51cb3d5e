// The paths behind graft_gemm.h's entry points, one file per instruction
// set (gemm_avx512.c, gemm_avx2.c), picked by gemm.c from graft_isa(). All
// share graft_gemm_pack's panel layout, so a packed B serves every path.

#ifndef GRAFT_GEMM_PATHS_H
#define GRAFT_GEMM_PATHS_H

#include "graft_gemm.h"

/// graft_gemm_tn's blocks of C, the same on every path: as many steps of k
/// at a time as keep the A and B they read within about 512 KiB (L2), so
/// that every tile of a block reads them from there. The paths sum each
/// element's products in the same chunks and order, and so agree bit for
/// bit.
#define GRAFT_TN_BLOCK_ROWS 384
#define GRAFT_TN_BLOCK_COLUMNS (16 * GRAFT_GEMM_PANEL)
#define GRAFT_TN_BLOCK_FLOATS (128 * 1024)

/// This thread's scratch, at least `bytes` long and 64-byte aligned, or NULL
/// when out of memory: one buffer per thread, kept from call to call and
/// freed when the thread ends (a program calling from many short-lived
/// threads leaks none).
void *graft_gemm_thread_scratch(size_t bytes);

/// B = Aᵀ element by element (any CPU; the vector paths' edges).
void graft_transpose_plain(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb);

void graft_transpose_avx512(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb);
void graft_gemm_pack_avx512(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                            float *packed);
void graft_gemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed, float *c,
                       size_t ldc, const float *bias, const float *residual, int relu, int stream);
void graft_gemm_tn_avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                          float *c, size_t ldc, int accumulate);

void graft_gemm_pack_avx2(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                          float *packed);
void graft_gemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed, float *c,
                     size_t ldc, const float *bias, const float *residual, int relu, int stream);
void graft_gemm_tn_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                        float *c, size_t ldc, int accumulate);

#endif
