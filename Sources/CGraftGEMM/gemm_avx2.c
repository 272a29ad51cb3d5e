#include "gemm_paths.h"

#include <immintrin.h>

// The AVX2 path: the same panels of 32 columns, each taken as two halves of
// 16. A tile is ROWS×16 of C over the whole of k: 2·ROWS accumulators, two
// registers of B and one broadcast of A fill AVX2's 16 registers.
#define ROWS 6
#define HALF 16
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 void graft_gemm_pack_avx2(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                               float *packed) {
    for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
        float *panel = packed + p * k * GRAFT_GEMM_PANEL;
        if (transposed) {
            // Column j of the panel is row p·32 + j of `b`, read along.
            for (size_t j = 0; j < GRAFT_GEMM_PANEL; j++) {
                const float *row = b + (p * GRAFT_GEMM_PANEL + j) * ldb;
                for (size_t r = 0; r < k; r++) panel[r * GRAFT_GEMM_PANEL + j] = scale ? row[r] * scale[r] : row[r];
            }
            continue;
        }
        for (size_t r = 0; r < k; r++) {
            const float *row = b + r * ldb + p * GRAFT_GEMM_PANEL;
            float factor = scale ? scale[r] : 1;
            for (size_t j = 0; j < GRAFT_GEMM_PANEL; j++) panel[r * GRAFT_GEMM_PANEL + j] = row[j] * factor;
        }
    }
}

/// Stores one row of a 16-column tile, y0 and y1, after the epilogue: the
/// bias (bias0, bias1: zeros without one), the residual row (or NULL), ReLU.
/// With `stream`, an aligned row goes straight to memory (see graft_gemm).
AVX2 static inline void store_row(float *c, __m256 y0, __m256 y1, __m256 bias0, __m256 bias1, const float *residual,
                                  int relu, int stream) {
    y0 = _mm256_add_ps(y0, bias0);
    y1 = _mm256_add_ps(y1, bias1);
    if (residual) {
        y0 = _mm256_add_ps(y0, _mm256_loadu_ps(residual));
        y1 = _mm256_add_ps(y1, _mm256_loadu_ps(residual + 8));
    }
    if (relu) {
        // maxps returns its second operand when either is NaN: y second
        // keeps a NaN, as TensorFlow's ReLU does.
        y0 = _mm256_max_ps(_mm256_setzero_ps(), y0);
        y1 = _mm256_max_ps(_mm256_setzero_ps(), y1);
    }
    if (stream && ((size_t)c & 31) == 0) {
        _mm256_stream_ps(c, y0);
        _mm256_stream_ps(c + 8, y1);
        return;
    }
    _mm256_storeu_ps(c, y0);
    _mm256_storeu_ps(c + 8, y1);
}

/// `rows` (a constant once inlined: ROWS or 1) rows of A times one half
/// panel (`half`, rows GRAFT_GEMM_PANEL floats apart), with the epilogue,
/// into C. A is packed (`packed`: step i's ROWS values side by side) or
/// rows at stride lda.
AVX2 static inline __attribute__((always_inline)) void tile(const int rows, const int packed, size_t k,
                                                            const float *a, size_t lda, const float *half, float *c,
                                                            size_t ldc, const float *bias, const float *residual,
                                                            int relu, int stream) {
    __m256 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < rows; r++) {
        acc0[r] = _mm256_setzero_ps();
        acc1[r] = _mm256_setzero_ps();
    }
    for (size_t i = 0; i < k; i++) {
        __m256 b0 = _mm256_loadu_ps(half + i * GRAFT_GEMM_PANEL);
        __m256 b1 = _mm256_loadu_ps(half + i * GRAFT_GEMM_PANEL + 8);
#pragma unroll
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(packed ? a + i * ROWS + r : a + r * lda + i);
            acc0[r] = _mm256_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma unroll
    for (int r = 0; r < rows; r++) {
        store_row(c + r * ldc, acc0[r], acc1[r], bias0, bias1, residual ? residual + r * ldc : NULL, relu, stream);
    }
}

/// ROWS rows of A (stride lda) packed step by step: out[i·ROWS + r] is
/// A[r][i] (graft_gemm packs rows a multiple of 4 KiB apart, which would
/// evict each other from L1; see gemm_avx512.c).
static void pack_rows(const float *a, size_t lda, size_t k, float *out) {
    for (size_t i = 0; i < k; i++) {
        for (int r = 0; r < ROWS; r++) out[i * ROWS + r] = a[r * lda + i];
    }
}

AVX2 void graft_gemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed, float *c,
                          size_t ldc, const float *bias, const float *residual, int relu, int stream) {
    // Rows of A per block: as many as keep the block within about 256 KiB
    // (L2 holds it and the panel at once), a multiple of ROWS.
    size_t block = (256 * 1024 / sizeof(float)) / (k ? k : 1);
    block = block < ROWS ? ROWS : block / ROWS * ROWS;
    if (block > 40 * ROWS) block = 40 * ROWS;
    float *rows_packed = lda * sizeof(float) % 4096 == 0 ? graft_gemm_thread_scratch(block * k * sizeof(float)) : NULL;
    for (size_t row0 = 0; row0 < m; row0 += block) {
        size_t rows = m - row0 < block ? m - row0 : block;
        if (rows_packed) {
            for (size_t r = 0; r + ROWS <= rows; r += ROWS) pack_rows(a + (row0 + r) * lda, lda, k, rows_packed + r * k);
        }
        for (size_t col = 0; col < n; col += HALF) {
            const float *half = packed + (col / GRAFT_GEMM_PANEL) * k * GRAFT_GEMM_PANEL + col % GRAFT_GEMM_PANEL;
            const float *tile_bias = bias ? bias + col : NULL;
            for (size_t r = 0; r < rows;) {
                size_t at = row0 + r;
                float *tile_c = c + at * ldc + col;
                const float *tile_residual = residual ? residual + at * ldc + col : NULL;
                if (rows - r < ROWS) {
                    // Fewer than ROWS rows left: one row at a time.
                    tile(1, 0, k, a + at * lda, lda, half, tile_c, ldc, tile_bias, tile_residual, relu, stream);
                    r += 1;
                } else if (rows_packed) {
                    tile(ROWS, 1, k, rows_packed + r * k, 0, half, tile_c, ldc, tile_bias, tile_residual, relu, stream);
                    r += ROWS;
                } else {
                    tile(ROWS, 0, k, a + at * lda, lda, half, tile_c, ldc, tile_bias, tile_residual, relu, stream);
                    r += ROWS;
                }
            }
        }
    }
    // Streamed stores are weakly ordered: drain them before another thread
    // can be told that C is ready.
    if (stream) _mm_sfence();
}

/// Aᵀ·B: `rows` (a constant once inlined: ROWS, 4 or 1) × 16 of C over
/// `steps` steps of k, added to C's values when `load`.
AVX2 static inline __attribute__((always_inline)) void tn_tile(const int rows, size_t steps, const float *a,
                                                               size_t lda, const float *b, size_t ldb, float *c,
                                                               size_t ldc, int load) {
    __m256 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < rows; r++) {
        acc0[r] = load ? _mm256_loadu_ps(c + r * ldc) : _mm256_setzero_ps();
        acc1[r] = load ? _mm256_loadu_ps(c + r * ldc + 8) : _mm256_setzero_ps();
    }
    for (size_t i = 0; i < steps; i++) {
        __m256 b0 = _mm256_loadu_ps(b + i * ldb), b1 = _mm256_loadu_ps(b + i * ldb + 8);
#pragma unroll
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a + i * lda + r);
            acc0[r] = _mm256_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(x, b1, acc1[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(c + r * ldc, acc0[r]);
        _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
    }
}

AVX2 void graft_gemm_tn_avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                             float *c, size_t ldc, int accumulate) {
    // Blocks of C, and chunks of k, as gemm_paths.h sets them.
    const size_t block_rows = GRAFT_TN_BLOCK_ROWS, block_columns = GRAFT_TN_BLOCK_COLUMNS;
    for (size_t col0 = 0; col0 < n; col0 += block_columns) {
        size_t columns = n - col0 < block_columns ? n - col0 : block_columns;
        for (size_t row0 = 0; row0 < m; row0 += block_rows) {
            size_t rows = m - row0 < block_rows ? m - row0 : block_rows;
            size_t depth = GRAFT_TN_BLOCK_FLOATS / (rows + columns);
            size_t k0 = 0;
            do {
                size_t steps = k - k0 < depth ? k - k0 : depth;
                int load = accumulate || k0 > 0;
                const float *a0 = a + k0 * lda + row0, *b0 = b + k0 * ldb + col0;
                float *c0 = c + row0 * ldc + col0;
                for (size_t r = 0; r < rows;) {
                    // Whole tiles, then 4 and single rows for what is left.
                    size_t left = rows - r, height = left >= ROWS ? ROWS : left >= 4 ? 4 : 1;
                    for (size_t j = 0; j < columns; j += HALF) {
                        const float *ta = a0 + r, *tb = b0 + j;
                        float *tc = c0 + r * ldc + j;
                        switch (height) {
                        case ROWS: tn_tile(ROWS, steps, ta, lda, tb, ldb, tc, ldc, load); break;
                        case 4: tn_tile(4, steps, ta, lda, tb, ldb, tc, ldc, load); break;
                        default: tn_tile(1, steps, ta, lda, tb, ldb, tc, ldc, load); break;
                        }
                    }
                    r += height;
                }
                k0 += steps;
            } while (k0 < k);
        }
    }
}
