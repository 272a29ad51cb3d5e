#include "graft_affine_sampler.h"
#include "graft_cpu.h"

#include <math.h>

// Compiled for AVX-512, AVX2 (floorf and roundf are then single
// instructions) and the x86-64 baseline, picked by graft_isa(); bilinear RGB
// also has 16-pixel (AVX-512) and 8-pixel (AVX2) paths with the same
// arithmetic.

// The helpers are inlined into each compiled copy of the entry point.
#define AI static inline __attribute__((always_inline))

// Coordinates stay within a few image sizes (the layers' factors are
// bounded), far inside int64_t's and exact floats' range: the casts below
// truncate as TensorFlow's do.

AI float clamp_to(float c, float n) {
    // Swift's and TensorFlow's min(max(c, 0), n - 1).
    c = 0 >= c ? 0 : c;
    return n - 1 < c ? n - 1 : c;
}

/// TensorFlow's MapCoordinate: a coordinate along an axis of `size` pixels
/// moved into [0, size - 1] by the fill mode (constant leaves it as it is).
AI float map_coordinate(float c, int64_t size, int32_t fill_mode) {
    const float n = (float)size;
    switch (fill_mode) {
    case GRAFT_SAMPLER_CONSTANT:
        return c;
    case GRAFT_SAMPLER_NEAREST:
        return clamp_to(c, n);
    case GRAFT_SAMPLER_REFLECT:
        if (c < 0) {
            if (size <= 1) {
                c = 0;
            } else {
                const float period = 2 * n;
                if (c < period) c = period * (float)(int64_t)(-c / period) + c;
                c = c < -n ? c + period : -c - 1;
            }
        } else if (c > n - 1) {
            if (size <= 1) {
                c = 0;
            } else {
                const float period = 2 * n;
                c -= period * (float)(int64_t)(c / period);
                if (c >= n) c = period - c - 1;
            }
        }
        break;
    default:  // wrap
        if (c < 0) {
            c = size <= 1 ? 0 : c + n * ((float)(int64_t)(-c / (n - 1)) + 1);
        } else if (c > n - 1) {
            c = size <= 1 ? 0 : c - n * (float)(int64_t)(c / (n - 1));
        }
        break;
    }
    return clamp_to(c, n);
}

/// The pixel (row, column)'s channel c, or `fill` outside the image.
AI float read_pixel(const float *input, int64_t row, int64_t column, int64_t c, int64_t height,
                               int64_t width, int64_t channels, float fill) {
    if (row < 0 || row >= height || column < 0 || column >= width) return fill;
    return input[(row * width + column) * channels + c];
}

/// Output pixels [first, end) of row oy, from `out` on; `channels` is a
/// constant where the caller passes one.
AI void sample_row_range(const float *input, float *out, int64_t oy, int64_t height, int64_t width,
                         int64_t channels, const float t[6], int32_t fill_mode, int32_t bilinear, float fill,
                         int64_t first, int64_t end) {
    const float y = (float)oy;
    for (int64_t ox = first; ox < end; ox++, out += channels) {
        const float x = (float)ox;
        const float x_in = map_coordinate(t[0] * x + t[1] * y + t[2], width, fill_mode);
        const float y_in = map_coordinate(t[3] * x + t[4] * y + t[5], height, fill_mode);
        if (!bilinear) {
            const int64_t row = (int64_t)roundf(y_in), column = (int64_t)roundf(x_in);
            for (int64_t c = 0; c < channels; c++) {
                out[c] = read_pixel(input, row, column, c, height, width, channels, fill);
            }
            continue;
        }
        const float y0 = floorf(y_in), x0 = floorf(x_in), y1 = y0 + 1, x1 = x0 + 1;
        const int64_t r0 = (int64_t)y0, r1 = (int64_t)y1, c0 = (int64_t)x0, c1 = (int64_t)x1;
        const float wx0 = x1 - x_in, wx1 = x_in - x0, wy0 = y1 - y_in, wy1 = y_in - y0;
        if (r0 >= 0 && r1 < height && c0 >= 0 && c1 < width) {
            // All four neighbours inside (most pixels): read directly.
            const float *top_left = input + (r0 * width + c0) * channels, *bottom_left = top_left + width * channels;
            for (int64_t c = 0; c < channels; c++) {
                const float top = wx0 * top_left[c] + wx1 * top_left[channels + c];
                const float bottom = wx0 * bottom_left[c] + wx1 * bottom_left[channels + c];
                out[c] = wy0 * top + wy1 * bottom;
            }
            continue;
        }
        for (int64_t c = 0; c < channels; c++) {
            const float top = wx0 * read_pixel(input, r0, c0, c, height, width, channels, fill)
                + wx1 * read_pixel(input, r0, c1, c, height, width, channels, fill);
            const float bottom = wx0 * read_pixel(input, r1, c0, c, height, width, channels, fill)
                + wx1 * read_pixel(input, r1, c1, c, height, width, channels, fill);
            out[c] = wy0 * top + wy1 * bottom;
        }
    }
}

/// One output row.
AI void sample_row(const float *input, float *out, int64_t oy, int64_t height, int64_t width,
                   int64_t channels, const float t[6], int32_t fill_mode, int32_t bilinear, float fill) {
    sample_row_range(input, out, oy, height, width, channels, t, fill_mode, bilinear, fill, 0, width);
}

AI void graft_affine_sample_body(const float *input, float *output, int64_t height, int64_t width, int64_t channels,
                         const float transform[6], int32_t fill_mode, int32_t bilinear, float fill_value) {
    for (int64_t oy = 0; oy < height; oy++) {
        float *out = output + oy * width * channels;
        // RGB's loop compiled with its channel count a constant.
        if (channels == 3) {
            sample_row(input, out, oy, height, width, 3, transform, fill_mode, bilinear, fill_value);
        } else {
            sample_row(input, out, oy, height, width, channels, transform, fill_mode, bilinear, fill_value);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

// The 16- and 8-lane copies of bilinear_rows.h.
typedef float sampler_v16 __attribute__((vector_size(64)));
typedef int32_t sampler_i16 __attribute__((vector_size(64)));
#define VEC sampler_v16
#define IVEC sampler_i16
#define LANES 16
#define NAME(f) f##_x16
#define MASK16(mask) _mm512_cmpneq_epi32_mask((__m512i)(mask), _mm512_setzero_si512())
#define GATHER(base, index, mask) \
    ((VEC)_mm512_mask_i32gather_ps(_mm512_setzero_ps(), MASK16(mask), (__m512i)(index), (base), 4))
#define MASK_BITS(mask) ((unsigned)MASK16(mask))
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#include "bilinear_rows.h"
#pragma clang attribute pop
#undef VEC
#undef IVEC
#undef LANES
#undef NAME
#undef GATHER
#undef MASK_BITS

typedef float sampler_v8 __attribute__((vector_size(32)));
typedef int32_t sampler_i8 __attribute__((vector_size(32)));
#define VEC sampler_v8
#define IVEC sampler_i8
#define LANES 8
#define NAME(f) f##_x8
#define GATHER(base, index, mask) \
    ((VEC)_mm256_mask_i32gather_ps(_mm256_setzero_ps(), (base), (__m256i)(index), (__m256)(mask), 4))
#define MASK_BITS(mask) ((unsigned)_mm256_movemask_ps((__m256)(mask)))
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "bilinear_rows.h"
#pragma clang attribute pop

/* Whether the vector paths take an image: bilinear RGB, axes of more than
 * one pixel, every index within 32 bits. */
static int vector_path_takes(int64_t height, int64_t width, int64_t channels, int32_t bilinear) {
    return bilinear && channels == 3 && height > 1 && width > 1 && height * width * 3 < ((int64_t)1 << 31) - width * 6;
}

__attribute__((target("avx512f"))) static void graft_affine_sample_avx512(
    const float *input, float *output, int64_t height, int64_t width, int64_t channels, const float transform[6],
    int32_t fill_mode, int32_t bilinear, float fill_value) {
    if (vector_path_takes(height, width, channels, bilinear)) {
        bilinear_rgb_rows_x16(input, output, height, width, transform, fill_mode, fill_value);
    } else {
        graft_affine_sample_body(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
    }
}
__attribute__((target("avx2,fma"))) static void graft_affine_sample_avx2(
    const float *input, float *output, int64_t height, int64_t width, int64_t channels, const float transform[6],
    int32_t fill_mode, int32_t bilinear, float fill_value) {
    if (vector_path_takes(height, width, channels, bilinear)) {
        bilinear_rgb_rows_x8(input, output, height, width, transform, fill_mode, fill_value);
    } else {
        graft_affine_sample_body(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
    }
}
static void graft_affine_sample_baseline(const float *input, float *output, int64_t height, int64_t width,
                                         int64_t channels, const float transform[6], int32_t fill_mode,
                                         int32_t bilinear, float fill_value) {
    graft_affine_sample_body(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
}
void graft_affine_sample(const float *input, float *output, int64_t height, int64_t width, int64_t channels,
                         const float transform[6], int32_t fill_mode, int32_t bilinear, float fill_value) {
    switch (graft_isa()) {
    case GRAFT_ISA_AVX512:
        graft_affine_sample_avx512(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
        break;
    case GRAFT_ISA_AVX2:
        graft_affine_sample_avx2(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
        break;
    default:
        graft_affine_sample_baseline(input, output, height, width, channels, transform, fill_mode, bilinear,
                                     fill_value);
        break;
    }
}
#else
GRAFT_ISA_DISPATCH(graft_affine_sample,
                   (const float *input, float *output, int64_t height, int64_t width, int64_t channels,
                    const float transform[6], int32_t fill_mode, int32_t bilinear, float fill_value),
                   (input, output, height, width, channels, transform, fill_mode, bilinear, fill_value))
#endif
