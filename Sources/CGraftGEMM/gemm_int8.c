#include "gemm_avx512_store.h"
#include "gemm_paths.h"
#include "graft_cpu.h"

#include <math.h>
#include <string.h>

// int8: activations as unsigned bytes (they follow a ReLU, so one scale per
// tensor and no zero point), weights as signed bytes with a scale per output
// column, products summed in int32 four at a time (AVX512_VNNI's vpdpbusd:
// 255·127·4 cannot overflow), the sum scaled back to float32 in the
// epilogue. The same 12x32 tiles as the float32 kernel.

#define ROWS 12
#define VNNI __attribute__((target("avx512f,fma,avx512vnni")))

int graft_gemm_int8_available(void) {
    __builtin_cpu_init();
    return graft_isa() == GRAFT_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
}

size_t graft_gemm_int8_packed_bytes(size_t k, size_t n) { return (k + 3) / 4 * 4 * n; }

void graft_gemm_pack_int8(const float *b, size_t ldb, int transposed, size_t k, size_t n, float *column_scales,
                          signed char *packed) {
    size_t groups = (k + 3) / 4;
    for (size_t col = 0; col < n; col++) {
        float largest = 0;
        for (size_t r = 0; r < k; r++) {
            float x = fabsf(transposed ? b[col * ldb + r] : b[r * ldb + col]);
            largest = x > largest ? x : largest;
        }
        column_scales[col] = largest > 0 ? largest / 127 : 1;
    }
    for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
        signed char *panel = packed + p * groups * 4 * GRAFT_GEMM_PANEL;
        for (size_t g = 0; g < groups; g++) {
            for (size_t j = 0; j < GRAFT_GEMM_PANEL; j++) {
                size_t col = p * GRAFT_GEMM_PANEL + j;
                for (size_t t = 0; t < 4; t++) {
                    size_t r = 4 * g + t;
                    float x = r < k ? (transposed ? b[col * ldb + r] : b[r * ldb + col]) : 0;
                    panel[(g * GRAFT_GEMM_PANEL + j) * 4 + t] = (signed char)lrintf(x / column_scales[col]);
                }
            }
        }
    }
}

/// Rows `rows` of A (float32, stride lda) to unsigned bytes, x·`inverse_scale`
/// rounded to nearest even and held to [0, 255], in rows of `stride` bytes
/// (k rounded up to 4, zeros past k).
VNNI static void quantize_rows(size_t rows, size_t k, const float *a, size_t lda, float inverse_scale,
                               unsigned char *out, size_t stride) {
    const __m512 factor = _mm512_set1_ps(inverse_scale), top = _mm512_set1_ps(255);
    const __m512i zero = _mm512_setzero_si512();
    for (size_t r = 0; r < rows; r++) {
        const float *x = a + r * lda;
        unsigned char *y = out + r * stride;
        size_t i = 0;
        for (; i + 16 <= k; i += 16) {
            // minps returns its second operand for a NaN, which converts to
            // INT_MIN and so to 0; above 255 (up to +inf) is held to 255
            // before the conversion could overflow.
            __m512 scaled = _mm512_min_ps(top, _mm512_mul_ps(_mm512_loadu_ps(x + i), factor));
            __m512i q = _mm512_max_epi32(_mm512_cvtps_epi32(scaled), zero);
            _mm_storeu_si128((__m128i *)(y + i), _mm512_cvtusepi32_epi8(q));
        }
        for (; i < k; i++) {
            float q = nearbyintf(x[i] * inverse_scale);
            y[i] = (unsigned char)(q > 0 ? (q < 255 ? q : 255) : 0);  // NaN: 0
        }
        memset(y + k, 0, stride - k);
    }
}

/// `count` (≤ ROWS) byte rows of A (`stride` apart) times one panel, with
/// the column scales and the epilogue.
VNNI static inline void tile_int8(int count, size_t groups, const unsigned char *a, size_t stride,
                                  const signed char *panel, const float *scales, float *c, size_t ldc,
                                  const float *bias, const float *residual, int relu, int stream) {
    __m512i acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        acc0[r] = _mm512_setzero_si512();
        acc1[r] = _mm512_setzero_si512();
    }
    for (size_t g = 0; g < groups; g++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(panel + g * 4 * GRAFT_GEMM_PANEL));
        __m512i b1 = _mm512_loadu_si512((const void *)(panel + g * 4 * GRAFT_GEMM_PANEL + 64));
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            int word;
            memcpy(&word, a + r * stride + 4 * g, sizeof word);
            __m512i x = _mm512_set1_epi32(word);
            acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, b0);
            acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, b1);
        }
    }
    __m512 scale0 = _mm512_loadu_ps(scales), scale1 = _mm512_loadu_ps(scales + 16);
    __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        if (r < count) {
            __m512 y0 = _mm512_mul_ps(_mm512_cvtepi32_ps(acc0[r]), scale0);
            __m512 y1 = _mm512_mul_ps(_mm512_cvtepi32_ps(acc1[r]), scale1);
            store_row(c + r * ldc, y0, y1, bias0, bias1, residual ? residual + r * ldc : NULL, relu, stream);
        }
    }
}

VNNI int graft_gemm_int8(size_t m, size_t n, size_t k, const float *a, size_t lda, float inverse_scale,
                         const signed char *packed, const float *column_scales, float *c, size_t ldc,
                         const float *bias, const float *residual, int relu, int stream) {
    size_t groups = (k + 3) / 4, row_bytes = groups * 4;
    // Rows per block: as many as keep their bytes within about 64 KiB, whole
    // tiles; the rows past m are zeros, computed and dropped.
    size_t block = (64 * 1024) / row_bytes;
    block = block < ROWS ? ROWS : block / ROWS * ROWS;
    if (block > 20 * ROWS) block = 20 * ROWS;
    // A cache line further apart where a multiple of 4 KiB would have the
    // rows collide in L1 (as graft_gemm's A).
    size_t stride = row_bytes % 4096 == 0 ? row_bytes + 64 : row_bytes;
    unsigned char *rows_int8 = graft_gemm_thread_scratch(block * stride);
    if (!rows_int8) return -1;
    for (size_t row0 = 0; row0 < m; row0 += block) {
        size_t rows = m - row0 < block ? m - row0 : block;
        quantize_rows(rows, k, a + row0 * lda, lda, inverse_scale, rows_int8, stride);
        size_t padded = (rows + ROWS - 1) / ROWS * ROWS;
        memset(rows_int8 + rows * stride, 0, (padded - rows) * stride);
        for (size_t p = 0; p < n / GRAFT_GEMM_PANEL; p++) {
            const signed char *panel = packed + p * groups * 4 * GRAFT_GEMM_PANEL;
            size_t col = p * GRAFT_GEMM_PANEL;
            for (size_t r = 0; r < rows; r += ROWS) {
                size_t at = row0 + r;
                int count = rows - r < ROWS ? (int)(rows - r) : ROWS;
                tile_int8(count, groups, rows_int8 + r * stride, stride, panel, column_scales + col,
                          c + at * ldc + col, ldc, bias ? bias + col : NULL,
                          residual ? residual + at * ldc + col : NULL, relu, stream);
            }
        }
    }
    if (stream) _mm_sfence();
    return 0;
}
