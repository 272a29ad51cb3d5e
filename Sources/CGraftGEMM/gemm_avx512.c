#include "graft_gemm.h"

#include <immintrin.h>
#include <string.h>

// The micro-kernel computes ROWS×32 of C over the whole of k: 2·ROWS
// accumulators, and per step of k two loads of B and ROWS broadcasts of A
// (folded into the multiply-adds), so loads never bind.
#define ROWS 12
#define AVX512 __attribute__((target("avx512f,fma")))

int graft_gemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

void graft_gemm_pack(const float *b, size_t ldb, int transposed, size_t k, size_t n, float *packed) {
    for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
        float *panel = packed + p * k * GRAFT_GEMM_PANEL;
        for (size_t r = 0; r < k; r++) {
            for (size_t j = 0; j < GRAFT_GEMM_PANEL; j++) {
                size_t col = p * GRAFT_GEMM_PANEL + j;
                panel[r * GRAFT_GEMM_PANEL + j] = transposed ? b[col * ldb + r] : b[r * ldb + col];
            }
        }
    }
}

/// ROWS rows of A (at stride lda) times one panel, with the epilogue, into
/// C (stride ldc); `residual` as C's rows or NULL.
AVX512 static inline void tile(size_t k, const float *a, size_t lda, const float *panel, float *c, size_t ldc,
                               const float *bias, const float *residual, int relu) {
    __m512 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (size_t i = 0; i < k; i++) {
        __m512 b0 = _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL);
        __m512 b1 = _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL + 16);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            __m512 x = _mm512_set1_ps(a[r * lda + i]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        __m512 y0 = _mm512_add_ps(acc0[r], bias0), y1 = _mm512_add_ps(acc1[r], bias1);
        if (residual) {
            y0 = _mm512_add_ps(y0, _mm512_loadu_ps(residual + r * ldc));
            y1 = _mm512_add_ps(y1, _mm512_loadu_ps(residual + r * ldc + 16));
        }
        if (relu) {
            y0 = _mm512_max_ps(y0, _mm512_setzero_ps());
            y1 = _mm512_max_ps(y1, _mm512_setzero_ps());
        }
        _mm512_storeu_ps(c + r * ldc, y0);
        _mm512_storeu_ps(c + r * ldc + 16, y1);
    }
}

AVX512 void graft_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                       float *c, size_t ldc, const float *bias, const float *residual, int relu) {
    // Rows of A per block: as many as keep the block within about 256 KiB
    // (L2 holds it and the panel at once), a multiple of ROWS.
    size_t block = (256 * 1024 / sizeof(float)) / (k ? k : 1);
    block = block < ROWS ? ROWS : block / ROWS * ROWS;
    if (block > 20 * ROWS) block = 20 * ROWS;
    for (size_t row0 = 0; row0 < m; row0 += block) {
        size_t rows = m - row0 < block ? m - row0 : block;
        for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
            const float *panel = packed + p * k * GRAFT_GEMM_PANEL;
            size_t col = p * GRAFT_GEMM_PANEL;
            const float *tile_bias = bias ? bias + col : NULL;
            size_t r = 0;
            for (; r + ROWS <= rows; r += ROWS) {
                size_t at = row0 + r;
                tile(k, a + at * lda, lda, panel, c + at * ldc + col, ldc, tile_bias,
                     residual ? residual + at * ldc + col : NULL, relu);
            }
            for (; r < rows; r++) {
                // Fewer than ROWS rows left: one row at a time.
                size_t at = row0 + r;
                const float *x = a + at * lda;
                __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
                for (size_t i = 0; i < k; i++) {
                    __m512 v = _mm512_set1_ps(x[i]);
                    acc0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL), acc0);
                    acc1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL + 16), acc1);
                }
                if (tile_bias) {
                    acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(tile_bias));
                    acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(tile_bias + 16));
                }
                if (residual) {
                    acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(residual + at * ldc + col));
                    acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(residual + at * ldc + col + 16));
                }
                if (relu) {
                    acc0 = _mm512_max_ps(acc0, _mm512_setzero_ps());
                    acc1 = _mm512_max_ps(acc1, _mm512_setzero_ps());
                }
                _mm512_storeu_ps(c + at * ldc + col, acc0);
                _mm512_storeu_ps(c + at * ldc + col + 16, acc1);
            }
        }
    }
}
