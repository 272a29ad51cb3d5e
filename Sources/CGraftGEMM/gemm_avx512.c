#include "gemm_avx512_store.h"
#include "gemm_paths.h"
#include "graft_cpu.h"

#include <immintrin.h>
#include <string.h>

// The micro-kernel computes ROWS×32 of C over the whole of k: 2·ROWS
// accumulators, and per step of k two loads of B and ROWS broadcasts of A
// (folded into the multiply-adds), so loads never bind.
#define ROWS 12

#define PD(x) _mm512_castps_pd(x)
#define PS(x) _mm512_castpd_ps(x)

/// Transposes the 16x16 block whose rows are r[0..15]: r[i] becomes its
/// column i (interleaving pairs of 32-bit, then 64-bit elements, then 128-
/// and 256-bit lanes).
AVX512 static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = PS(_mm512_unpacklo_pd(PD(t[i]), PD(t[i + 2])));
        r[i + 1] = PS(_mm512_unpackhi_pd(PD(t[i]), PD(t[i + 2])));
        r[i + 2] = PS(_mm512_unpacklo_pd(PD(t[i + 1]), PD(t[i + 3])));
        r[i + 3] = PS(_mm512_unpackhi_pd(PD(t[i + 1]), PD(t[i + 3])));
    }
    for (int h = 0; h < 16; h += 8) {
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/// graft_gemm_pack of a transposed B: each panel's 32 columns are 32 rows
/// of `b`, read 16 rows by 16 values and transposed in registers (reading
/// them one value per row at a time was slower on ResNet's kernels:
/// bench/HISTORY.md has the measurement).
AVX512 static void pack_transposed(const float *b, size_t ldb, size_t k, size_t n, const float *scale,
                                   float *packed) {
    for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
        float *panel = packed + p * k * GRAFT_GEMM_PANEL;
        for (size_t half = 0; half < GRAFT_GEMM_PANEL; half += 16) {
            const float *rows = b + (p * GRAFT_GEMM_PANEL + half) * ldb;
            size_t r = 0;
            for (; r + 16 <= k; r += 16) {
                __m512 block[16];
                for (int j = 0; j < 16; j++) block[j] = _mm512_loadu_ps(rows + j * ldb + r);
                transpose16(block);
                for (int q = 0; q < 16; q++) {
                    __m512 row = scale ? _mm512_mul_ps(block[q], _mm512_set1_ps(scale[r + q])) : block[q];
                    _mm512_storeu_ps(panel + (r + q) * GRAFT_GEMM_PANEL + half, row);
                }
            }
            for (; r < k; r++) {
                for (int j = 0; j < 16; j++) {
                    float x = rows[j * ldb + r];
                    panel[r * GRAFT_GEMM_PANEL + half + j] = scale ? x * scale[r] : x;
                }
            }
        }
    }
}

AVX512 void graft_transpose_avx512(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb) {
    size_t i = 0;
    for (; i + 16 <= rows; i += 16) {
        size_t j = 0;
        for (; j + 16 <= columns; j += 16) {
            __m512 block[16];
            for (int r = 0; r < 16; r++) block[r] = _mm512_loadu_ps(a + (i + r) * lda + j);
            transpose16(block);
            for (int q = 0; q < 16; q++) _mm512_storeu_ps(b + (j + q) * ldb + i, block[q]);
        }
        for (; j < columns; j++) {
            for (size_t r = i; r < i + 16; r++) b[j * ldb + r] = a[r * lda + j];
        }
    }
    graft_transpose_plain(rows - i, columns, a + i * lda, lda, b + i, ldb);
}

AVX512 void graft_gemm_pack_avx512(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                            float *packed) {
    if (transposed) {
        pack_transposed(b, ldb, k, n, scale, packed);
        return;
    }
    // Row by row of B, each row's 32-column pieces to their panels.
    for (size_t r = 0; r < k; r++) {
        const float *row = b + r * ldb;
        __m512 factor = _mm512_set1_ps(scale ? scale[r] : 1);
        for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
            float *target = packed + (p * k + r) * GRAFT_GEMM_PANEL;
            _mm512_storeu_ps(target, _mm512_mul_ps(_mm512_loadu_ps(row + p * GRAFT_GEMM_PANEL), factor));
            _mm512_storeu_ps(target + 16, _mm512_mul_ps(_mm512_loadu_ps(row + p * GRAFT_GEMM_PANEL + 16), factor));
        }
    }
}

/// ROWS rows of A times one panel, with the epilogue, into C (stride ldc);
/// `residual` as C's rows or NULL. A is packed (`packed`, a constant once
/// inlined: step i's ROWS values side by side, as pack_rows lays them out)
/// or rows at stride lda. With `prefetch` (A's rows in place, on their
/// first panel, when they come from memory), the next ROWS rows are
/// prefetched a cache line per row as the steps reach it: twelve rows read
/// at once, one value each per step, are more streams than the hardware
/// prefetcher follows (bench/HISTORY.md has the measurement).
/// A prefetch past the end of A is harmless: prefetches never fault.
AVX512 static inline __attribute__((always_inline)) void tile(const int packed, size_t k, const float *a, size_t lda,
                                                              const float *panel, float *c, size_t ldc,
                                                              const float *bias, const float *residual, int relu,
                                                              int stream, int prefetch) {
    __m512 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (size_t i = 0; i < k; i++) {
        if (!packed && prefetch && i % 16 == 0) {
#pragma unroll
            for (int r = 0; r < ROWS; r++) _mm_prefetch((const char *)(a + (ROWS + r) * lda + i), _MM_HINT_T0);
        }
        __m512 b0 = _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL);
        __m512 b1 = _mm512_loadu_ps(panel + i * GRAFT_GEMM_PANEL + 16);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            __m512 x = _mm512_set1_ps(packed ? a[i * ROWS + r] : a[r * lda + i]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        store_row(c + r * ldc, acc0[r], acc1[r], bias0, bias1, residual ? residual + r * ldc : NULL, relu, stream);
    }
}

/// ROWS rows of A (stride lda) packed step by step: out[i·ROWS + r] is
/// A[r][i], so that the micro-kernel's broadcasts read one stream. graft_gemm
/// packs rows whose stride is a multiple of 4 KiB, which read in place all
/// fall in one set of the L1 cache and evict each other; other rows it
/// reads in place, where packing them costs more than it saves
/// (bench/HISTORY.md has the measurements).
AVX512 static void pack_rows(const float *a, size_t lda, size_t k, float *out) {
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512 block[16];
        for (int r = 0; r < 16; r++) block[r] = r < ROWS ? _mm512_loadu_ps(a + r * lda + i) : _mm512_setzero_ps();
        transpose16(block);
        for (int q = 0; q < 16; q++) _mm512_mask_storeu_ps(out + (i + q) * ROWS, (1 << ROWS) - 1, block[q]);
    }
    for (; i < k; i++) {
        for (int r = 0; r < ROWS; r++) out[i * ROWS + r] = a[r * lda + i];
    }
}

AVX512 void graft_gemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                       float *c, size_t ldc, const float *bias, const float *residual, int relu,
                       int stream) {
    // Rows of A per block: as many as keep the block within about 256 KiB
    // (L2 holds it and the panel at once), a multiple of ROWS.
    size_t block = (256 * 1024 / sizeof(float)) / (k ? k : 1);
    block = block < ROWS ? ROWS : block / ROWS * ROWS;
    if (block > 20 * ROWS) block = 20 * ROWS;
    // Rows packed in the thread's scratch; where it cannot be allocated, the
    // tiles read A in place.
    float *rows_packed = lda * sizeof(float) % 4096 == 0 ? graft_gemm_thread_scratch(block * k * sizeof(float)) : NULL;
    for (size_t row0 = 0; row0 < m; row0 += block) {
        size_t rows = m - row0 < block ? m - row0 : block;
        if (rows_packed) {
            for (size_t r = 0; r + ROWS <= rows; r += ROWS) pack_rows(a + (row0 + r) * lda, lda, k, rows_packed + r * k);
        }
        for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
            const float *panel = packed + p * k * GRAFT_GEMM_PANEL;
            size_t col = p * GRAFT_GEMM_PANEL;
            const float *tile_bias = bias ? bias + col : NULL;
            size_t r = 0;
            for (; r + ROWS <= rows; r += ROWS) {
                size_t at = row0 + r;
                float *tile_c = c + at * ldc + col;
                const float *tile_residual = residual ? residual + at * ldc + col : NULL;
                if (rows_packed) {
                    tile(1, k, rows_packed + r * k, 0, panel, tile_c, ldc, tile_bias, tile_residual, relu, stream, 0);
                } else {
                    tile(0, k, a + at * lda, lda, panel, tile_c, ldc, tile_bias, tile_residual, relu, stream, p == 0);
                }
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
                store_row(c + at * ldc + col, acc0, acc1,
                          tile_bias ? _mm512_loadu_ps(tile_bias) : _mm512_setzero_ps(),
                          tile_bias ? _mm512_loadu_ps(tile_bias + 16) : _mm512_setzero_ps(),
                          residual ? residual + at * ldc + col : NULL, relu, stream);
            }
        }
    }
    // Streamed stores are weakly ordered: drain them before another thread
    // can be told that C is ready.
    if (stream) _mm_sfence();
}

// Aᵀ·B for the kernel gradients: the same 12x32 tiles, A's ROWS values of
// one step of k now side by side in memory (a row of the stored k×m A).

/// `rows` (a constant once inlined: ROWS, 8, 4 or 1) × 32 of C over `steps`
/// steps of k, added to C's values when `load`. As the steps go, the two
/// cache lines of each step of the panel at `next_b` are prefetched (when
/// not NULL), and `a_lines` lines of each step of A from `next_a` on.
AVX512 static inline __attribute__((always_inline)) void tn_tile(const int rows, size_t steps, const float *a,
                                                                 size_t lda, const float *b, size_t ldb, float *c,
                                                                 size_t ldc, int load, const float *next_b,
                                                                 const float *next_a, size_t a_lines) {
    __m512 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < rows; r++) {
        acc0[r] = load ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
        acc1[r] = load ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
    }
    for (size_t i = 0; i < steps; i++) {
        if (next_b) {
            _mm_prefetch((const char *)(next_b + i * ldb), _MM_HINT_T0);
            _mm_prefetch((const char *)(next_b + i * ldb + 16), _MM_HINT_T0);
        }
        for (size_t line = 0; next_a && line < a_lines; line++) {
            _mm_prefetch((const char *)(next_a + i * lda + 16 * line), _MM_HINT_T1);
        }
        __m512 b0 = _mm512_loadu_ps(b + i * ldb), b1 = _mm512_loadu_ps(b + i * ldb + 16);
#pragma unroll
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[i * lda + r]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(c + r * ldc, acc0[r]);
        _mm512_storeu_ps(c + r * ldc + 16, acc1[r]);
    }
}

AVX512 void graft_gemm_tn_avx512(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                          float *c, size_t ldc, int accumulate) {
    // Blocks of C, and chunks of k, as gemm_paths.h sets them.
    const size_t block_rows = GRAFT_TN_BLOCK_ROWS, block_columns = GRAFT_TN_BLOCK_COLUMNS;
    for (size_t col0 = 0; col0 < n; col0 += block_columns) {
        size_t columns = n - col0 < block_columns ? n - col0 : block_columns;
        for (size_t row0 = 0; row0 < m; row0 += block_rows) {
            size_t rows = m - row0 < block_rows ? m - row0 : block_rows;
            size_t depth = GRAFT_TN_BLOCK_FLOATS / (rows + columns), a_lines = (rows + 15) / 16;
            size_t k0 = 0;
            do {
                size_t steps = k - k0 < depth ? k - k0 : depth;
                int load = accumulate || k0 > 0;
                const float *a0 = a + k0 * lda + row0, *b0 = b + k0 * ldb + col0;
                float *c0 = c + row0 * ldc + col0;
                for (size_t r = 0; r < rows;) {
                    // Whole tiles, then 8, 4 and single rows for what is left.
                    size_t left = rows - r, height = left >= ROWS ? ROWS : left >= 8 ? 8 : left >= 4 ? 4 : 1;
                    for (size_t j = 0; j < columns; j += GRAFT_GEMM_PANEL) {
                        const float *ta = a0 + r, *tb = b0 + j;
                        float *tc = c0 + r * ldc + j;
                        // The first row of tiles reads the chunk's A and B
                        // from memory, far apart: it prefetches the next
                        // panel of B, and its first tile the block's rows of A
                        // (bench/HISTORY.md has the measurement).
                        const float *nb = r == 0 && j + GRAFT_GEMM_PANEL < columns ? tb + GRAFT_GEMM_PANEL : NULL;
                        const float *na = r == 0 && j == 0 ? a0 : NULL;
                        switch (height) {
                        case ROWS: tn_tile(ROWS, steps, ta, lda, tb, ldb, tc, ldc, load, nb, na, a_lines); break;
                        case 8: tn_tile(8, steps, ta, lda, tb, ldb, tc, ldc, load, nb, na, a_lines); break;
                        case 4: tn_tile(4, steps, ta, lda, tb, ldb, tc, ldc, load, nb, na, a_lines); break;
                        default: tn_tile(1, steps, ta, lda, tb, ldb, tc, ldc, load, nb, na, a_lines); break;
                        }
                    }
                    r += height;
                }
                k0 += steps;
            } while (k0 < k);
        }
    }
}

// bfloat16: the same tiles, two steps of k per dot-product instruction.

#define AVX512BF16 __attribute__((target("avx512f,fma,avx512bf16")))

int graft_gemm_bf16_available(void) {
    __builtin_cpu_init();
    return graft_isa() == GRAFT_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
}

size_t graft_gemm_bf16_packed_words(size_t k, size_t n) { return (k + 1) / 2 * n; }

/// float32 to bfloat16, rounded to nearest even (as the hardware converts).
static inline unsigned short to_bf16(float x) {
    unsigned int bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffff) > 0x7f800000) return (unsigned short)((bits >> 16) | 0x40);  // NaN stays NaN
    bits += 0x7fff + ((bits >> 16) & 1);
    return (unsigned short)(bits >> 16);
}

void graft_gemm_pack_bf16(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                          unsigned int *packed) {
    size_t pairs = (k + 1) / 2;
    for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
        unsigned int *panel = packed + p * pairs * GRAFT_GEMM_PANEL;
        for (size_t i = 0; i < pairs; i++) {
            for (size_t j = 0; j < GRAFT_GEMM_PANEL; j++) {
                size_t col = p * GRAFT_GEMM_PANEL + j, r0 = 2 * i, r1 = 2 * i + 1;
                float lo = (transposed ? b[col * ldb + r0] : b[r0 * ldb + col]) * (scale ? scale[r0] : 1);
                float hi = r1 < k ? (transposed ? b[col * ldb + r1] : b[r1 * ldb + col]) * (scale ? scale[r1] : 1) : 0;
                panel[i * GRAFT_GEMM_PANEL + j] = (unsigned int)to_bf16(lo) | (unsigned int)to_bf16(hi) << 16;
            }
        }
    }
}

/// Rows `rows` of A (fp32, stride lda) to bfloat16 rows of ⌈k/2⌉ words,
/// `stride` words apart.
AVX512BF16 static void convert_rows(size_t rows, size_t k, const float *a, size_t lda, unsigned int *out,
                                    size_t stride) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = a + r * lda;
        unsigned int *y = out + r * stride;
        size_t i = 0;
        for (; i + 32 <= k; i += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
            _mm512_storeu_si512((void *)(y + i / 2), (__m512i)v);
        }
        for (; i < k; i += 2) {
            y[i / 2] = (unsigned int)to_bf16(x[i]) | (unsigned int)(i + 1 < k ? to_bf16(x[i + 1]) : 0) << 16;
        }
    }
}

/// `count` (≤ ROWS) bfloat16 rows of A (`stride` words apart) times one
/// panel, with the epilogue.
AVX512BF16 static inline void tile_bf16(int count, size_t pairs, const unsigned int *a, size_t stride,
                                        const unsigned int *panel, float *c, size_t ldc, const float *bias,
                                        const float *residual, int relu, int stream) {
    __m512 acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (size_t i = 0; i < pairs; i++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(panel + i * GRAFT_GEMM_PANEL));
        __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(panel + i * GRAFT_GEMM_PANEL + 16));
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[r * stride + i]);
            acc0[r] = _mm512_dpbf16_ps(acc0[r], x, b0);
            acc1[r] = _mm512_dpbf16_ps(acc1[r], x, b1);
        }
    }
    __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    // Constant indices keep the accumulators in registers.
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        if (r < count) {
            store_row(c + r * ldc, acc0[r], acc1[r], bias0, bias1, residual ? residual + r * ldc : NULL, relu, stream);
        }
    }
}

AVX512BF16 int graft_gemm_bf16(size_t m, size_t n, size_t k, const float *a, size_t lda,
                               const unsigned int *packed, float *c, size_t ldc, const float *bias,
                               const float *residual, int relu, int stream) {
    size_t pairs = (k + 1) / 2;
    // Rows per block as in graft_gemm (their bfloat16 copy is half the size),
    // rounded up to whole tiles: the rows past m are zeros, computed and dropped.
    size_t block = (128 * 1024 / sizeof(unsigned int)) / (pairs ? pairs : 1);
    block = block < ROWS ? ROWS : block / ROWS * ROWS;
    if (block > 20 * ROWS) block = 20 * ROWS;
    // The bfloat16 rows in the thread's scratch (128 KiB, or 12 rows if
    // longer), a cache line further apart where a multiple of 4 KiB would
    // have them collide in L1 (as graft_gemm's A, see pack_rows).
    size_t stride = pairs * sizeof(unsigned int) % 4096 == 0 ? pairs + 16 : pairs;
    unsigned int *rows_bf16 = graft_gemm_thread_scratch(block * stride * sizeof(unsigned int));
    if (!rows_bf16) return -1;
    for (size_t row0 = 0; row0 < m; row0 += block) {
        size_t rows = m - row0 < block ? m - row0 : block;
        convert_rows(rows, k, a + row0 * lda, lda, rows_bf16, stride);
        size_t padded = (rows + ROWS - 1) / ROWS * ROWS;
        memset(rows_bf16 + rows * stride, 0, (padded - rows) * stride * sizeof(unsigned int));
        for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
            const unsigned int *panel = packed + p * pairs * GRAFT_GEMM_PANEL;
            size_t col = p * GRAFT_GEMM_PANEL;
            for (size_t r = 0; r < rows; r += ROWS) {
                size_t at = row0 + r;
                int count = rows - r < ROWS ? (int)(rows - r) : ROWS;
                tile_bf16(count, pairs, rows_bf16 + r * stride, stride, panel, c + at * ldc + col, ldc,
                          bias ? bias + col : NULL, residual ? residual + at * ldc + col : NULL, relu, stream);
            }
        }
    }
    if (stream) _mm_sfence();
    return 0;
}
