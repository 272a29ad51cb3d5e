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

#define V512 __attribute__((target("avx512f"), always_inline)) static inline

/* m ? when_true : otherwise, lane by lane (m from ordered comparisons, false
 * for NaN, as the scalar code's). */
V512 __m512 blend_where(__mmask16 m, __m512 when_true, __m512 otherwise) {
    return _mm512_mask_blend_ps(m, otherwise, when_true);
}

/* (float)(int64_t)v: truncation toward zero (the coordinates are small). */
V512 __m512 truncate16(__m512 v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }

/* clamp_to, 16 lanes. */
V512 __m512 clamp16(__m512 c, __m512 n1) {
    const __m512 zero = _mm512_setzero_ps();
    c = blend_where(_mm512_cmp_ps_mask(c, zero, _CMP_LE_OQ), zero, c);
    return blend_where(_mm512_cmp_ps_mask(n1, c, _CMP_LT_OQ), n1, c);
}

/* map_coordinate, 16 lanes, each operation as the scalar code orders it
 * (an axis of more than one pixel: the caller checks). */
V512 __m512 map16(__m512 c, float size, int32_t fill_mode) {
    const __m512 n = _mm512_set1_ps(size), n1 = _mm512_set1_ps(size - 1), one = _mm512_set1_ps(1);
    const __m512 zero = _mm512_setzero_ps();
    const __mmask16 below = _mm512_cmp_ps_mask(c, zero, _CMP_LT_OQ), above = _mm512_cmp_ps_mask(c, n1, _CMP_GT_OQ);
    const __m512 negative = _mm512_sub_ps(zero, c);
    switch (fill_mode) {
    case GRAFT_SAMPLER_CONSTANT:
        return c;
    case GRAFT_SAMPLER_NEAREST:
        break;
    case GRAFT_SAMPLER_REFLECT: {
        const __m512 period = _mm512_add_ps(n, n), minus_n = _mm512_sub_ps(zero, n);
        // Below: c + period * trunc(-c / period), then folded back.
        __m512 low = _mm512_add_ps(_mm512_mul_ps(period, truncate16(_mm512_div_ps(negative, period))), c);
        low = blend_where(_mm512_cmp_ps_mask(low, minus_n, _CMP_LT_OQ), _mm512_add_ps(low, period),
                          _mm512_sub_ps(_mm512_sub_ps(zero, low), one));
        // Above: c - period * trunc(c / period), then folded back.
        __m512 high = _mm512_sub_ps(c, _mm512_mul_ps(period, truncate16(_mm512_div_ps(c, period))));
        high = blend_where(_mm512_cmp_ps_mask(high, n, _CMP_GE_OQ), _mm512_sub_ps(_mm512_sub_ps(period, high), one),
                           high);
        c = blend_where(below, low, blend_where(above, high, c));
        break;
    }
    default: {  // wrap
        const __m512 low = _mm512_add_ps(c, _mm512_mul_ps(n, _mm512_add_ps(truncate16(_mm512_div_ps(negative, n1)), one)));
        const __m512 high = _mm512_sub_ps(c, _mm512_mul_ps(n, truncate16(_mm512_div_ps(c, n1))));
        c = blend_where(below, low, blend_where(above, high, c));
        break;
    }
    }
    return clamp16(c, n1);
}

/* Bilinear RGB rows, 16 pixels at a time: the pixels whose four neighbours
 * lie inside the image (most of them) read by gathers, the others by the
 * scalar code; every operation as sample_row orders it, so the bits are its. */
__attribute__((target("avx512f"))) static void bilinear_rgb_rows_avx512(
    const float *input, float *output, int64_t height, int64_t width, const float t[6], int32_t fill_mode,
    float fill) {
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i rows = _mm512_set1_epi32((int32_t)height), columns = _mm512_set1_epi32((int32_t)width);
    const __m512i zero = _mm512_setzero_si512(), row_floats = _mm512_set1_epi32((int32_t)(width * 3));
    const __m512 one = _mm512_set1_ps(1), far = _mm512_set1_ps(2147483520.0f);
    float sampled[3][16] __attribute__((aligned(64)));
    for (int64_t oy = 0; oy < height; oy++) {
        float *out = output + oy * width * 3;
        const __m512 y = _mm512_set1_ps((float)oy);
        const __m512 y_part_x = _mm512_mul_ps(_mm512_set1_ps(t[1]), y), y_part_y = _mm512_mul_ps(_mm512_set1_ps(t[4]), y);
        int64_t ox = 0;
        for (; ox + 16 <= width; ox += 16) {
            const __m512 x = _mm512_add_ps(_mm512_set1_ps((float)ox), lane);
            const __m512 x_in = map16(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(t[0]), x), y_part_x),
                                                    _mm512_set1_ps(t[2])), (float)width, fill_mode);
            const __m512 y_in = map16(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(t[3]), x), y_part_y),
                                                    _mm512_set1_ps(t[5])), (float)height, fill_mode);
            const __m512 y0 = _mm512_roundscale_ps(y_in, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m512 x0 = _mm512_roundscale_ps(x_in, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m512 y1 = _mm512_add_ps(y0, one), x1 = _mm512_add_ps(x0, one);
            const __m512 wx0 = _mm512_sub_ps(x1, x_in), wx1 = _mm512_sub_ps(x_in, x0);
            const __m512 wy0 = _mm512_sub_ps(y1, y_in), wy1 = _mm512_sub_ps(y_in, y0);
            // Coordinates far outside (constant fill) saturate the
            // conversion; the bounds below reject them.
            const __m512i r0 = _mm512_cvttps_epi32(y0), c0 = _mm512_cvttps_epi32(x0);
            const __mmask16 inside = _mm512_cmp_epi32_mask(r0, zero, _MM_CMPINT_NLT)
                & _mm512_cmp_epi32_mask(_mm512_add_epi32(r0, _mm512_set1_epi32(1)), rows, _MM_CMPINT_LT)
                & _mm512_cmp_epi32_mask(c0, zero, _MM_CMPINT_NLT)
                & _mm512_cmp_epi32_mask(_mm512_add_epi32(c0, _mm512_set1_epi32(1)), columns, _MM_CMPINT_LT)
                & _mm512_cmp_ps_mask(y0, far, _CMP_LT_OQ) & _mm512_cmp_ps_mask(x0, far, _CMP_LT_OQ);
            if (inside) {
                const __m512i top_left = _mm512_mullo_epi32(
                    _mm512_add_epi32(_mm512_mullo_epi32(r0, columns), c0), _mm512_set1_epi32(3));
                const __m512i bottom_left = _mm512_add_epi32(top_left, row_floats);
                const __m512 none = _mm512_setzero_ps();
                for (int c = 0; c < 3; c++) {
                    const __m512i tl = _mm512_add_epi32(top_left, _mm512_set1_epi32(c));
                    const __m512i bl = _mm512_add_epi32(bottom_left, _mm512_set1_epi32(c));
                    const __m512i tr = _mm512_add_epi32(tl, _mm512_set1_epi32(3));
                    const __m512i br = _mm512_add_epi32(bl, _mm512_set1_epi32(3));
                    const __m512 top = _mm512_add_ps(
                        _mm512_mul_ps(wx0, _mm512_mask_i32gather_ps(none, inside, tl, input, 4)),
                        _mm512_mul_ps(wx1, _mm512_mask_i32gather_ps(none, inside, tr, input, 4)));
                    const __m512 bottom = _mm512_add_ps(
                        _mm512_mul_ps(wx0, _mm512_mask_i32gather_ps(none, inside, bl, input, 4)),
                        _mm512_mul_ps(wx1, _mm512_mask_i32gather_ps(none, inside, br, input, 4)));
                    _mm512_store_ps(sampled[c], _mm512_add_ps(_mm512_mul_ps(wy0, top), _mm512_mul_ps(wy1, bottom)));
                }
            }
            float *pixel = out + ox * 3;
            for (int p = 0; p < 16; p++, pixel += 3) {
                if (inside & (1u << p)) {
                    pixel[0] = sampled[0][p];
                    pixel[1] = sampled[1][p];
                    pixel[2] = sampled[2][p];
                } else {
                    sample_row_range(input, pixel, oy, height, width, 3, t, fill_mode, 1, fill, ox + p, ox + p + 1);
                }
            }
        }
        sample_row_range(input, out + ox * 3, oy, height, width, 3, t, fill_mode, 1, fill, ox, width);
    }
}

#define V256 __attribute__((target("avx2,fma"), always_inline)) static inline

/* The AVX2 path: the same operations as the AVX-512 one, 8 lanes, masks as
 * vectors of all-ones lanes. */
V256 __m256 blend_where8(__m256 m, __m256 when_true, __m256 otherwise) { return _mm256_blendv_ps(otherwise, when_true, m); }

V256 __m256 truncate8(__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }

V256 __m256 clamp8(__m256 c, __m256 n1) {
    const __m256 zero = _mm256_setzero_ps();
    c = blend_where8(_mm256_cmp_ps(c, zero, _CMP_LE_OQ), zero, c);
    return blend_where8(_mm256_cmp_ps(n1, c, _CMP_LT_OQ), n1, c);
}

V256 __m256 map8(__m256 c, float size, int32_t fill_mode) {
    const __m256 n = _mm256_set1_ps(size), n1 = _mm256_set1_ps(size - 1), one = _mm256_set1_ps(1);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 below = _mm256_cmp_ps(c, zero, _CMP_LT_OQ), above = _mm256_cmp_ps(c, n1, _CMP_GT_OQ);
    const __m256 negative = _mm256_sub_ps(zero, c);
    switch (fill_mode) {
    case GRAFT_SAMPLER_CONSTANT:
        return c;
    case GRAFT_SAMPLER_NEAREST:
        break;
    case GRAFT_SAMPLER_REFLECT: {
        const __m256 period = _mm256_add_ps(n, n), minus_n = _mm256_sub_ps(zero, n);
        __m256 low = _mm256_add_ps(_mm256_mul_ps(period, truncate8(_mm256_div_ps(negative, period))), c);
        low = blend_where8(_mm256_cmp_ps(low, minus_n, _CMP_LT_OQ), _mm256_add_ps(low, period),
                           _mm256_sub_ps(_mm256_sub_ps(zero, low), one));
        __m256 high = _mm256_sub_ps(c, _mm256_mul_ps(period, truncate8(_mm256_div_ps(c, period))));
        high = blend_where8(_mm256_cmp_ps(high, n, _CMP_GE_OQ), _mm256_sub_ps(_mm256_sub_ps(period, high), one), high);
        c = blend_where8(below, low, blend_where8(above, high, c));
        break;
    }
    default: {  // wrap
        const __m256 low = _mm256_add_ps(c, _mm256_mul_ps(n, _mm256_add_ps(truncate8(_mm256_div_ps(negative, n1)), one)));
        const __m256 high = _mm256_sub_ps(c, _mm256_mul_ps(n, truncate8(_mm256_div_ps(c, n1))));
        c = blend_where8(below, low, blend_where8(above, high, c));
        break;
    }
    }
    return clamp8(c, n1);
}

__attribute__((target("avx2,fma"))) static void bilinear_rgb_rows_avx2(
    const float *input, float *output, int64_t height, int64_t width, const float t[6], int32_t fill_mode,
    float fill) {
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i rows = _mm256_set1_epi32((int32_t)height), columns = _mm256_set1_epi32((int32_t)width);
    const __m256i minus_one = _mm256_set1_epi32(-1), row_floats = _mm256_set1_epi32((int32_t)(width * 3));
    const __m256 one = _mm256_set1_ps(1), far = _mm256_set1_ps(2147483520.0f);
    float sampled[3][8] __attribute__((aligned(32)));
    for (int64_t oy = 0; oy < height; oy++) {
        float *out = output + oy * width * 3;
        const __m256 y = _mm256_set1_ps((float)oy);
        const __m256 y_part_x = _mm256_mul_ps(_mm256_set1_ps(t[1]), y), y_part_y = _mm256_mul_ps(_mm256_set1_ps(t[4]), y);
        int64_t ox = 0;
        for (; ox + 8 <= width; ox += 8) {
            const __m256 x = _mm256_add_ps(_mm256_set1_ps((float)ox), lane);
            const __m256 x_in = map8(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(t[0]), x), y_part_x),
                                                   _mm256_set1_ps(t[2])), (float)width, fill_mode);
            const __m256 y_in = map8(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(t[3]), x), y_part_y),
                                                   _mm256_set1_ps(t[5])), (float)height, fill_mode);
            const __m256 y0 = _mm256_round_ps(y_in, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m256 x0 = _mm256_round_ps(x_in, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            const __m256 y1 = _mm256_add_ps(y0, one), x1 = _mm256_add_ps(x0, one);
            const __m256 wx0 = _mm256_sub_ps(x1, x_in), wx1 = _mm256_sub_ps(x_in, x0);
            const __m256 wy0 = _mm256_sub_ps(y1, y_in), wy1 = _mm256_sub_ps(y_in, y0);
            const __m256i r0 = _mm256_cvttps_epi32(y0), c0 = _mm256_cvttps_epi32(x0);
            // r0 > -1, r0 + 1 < height, the same for columns, and no
            // saturated conversion.
            const __m256i inside_rows = _mm256_and_si256(_mm256_cmpgt_epi32(r0, minus_one),
                                                         _mm256_cmpgt_epi32(rows, _mm256_sub_epi32(r0, minus_one)));
            const __m256i inside_columns = _mm256_and_si256(_mm256_cmpgt_epi32(c0, minus_one),
                                                            _mm256_cmpgt_epi32(columns, _mm256_sub_epi32(c0, minus_one)));
            const __m256 near = _mm256_and_ps(_mm256_cmp_ps(y0, far, _CMP_LT_OQ), _mm256_cmp_ps(x0, far, _CMP_LT_OQ));
            const __m256 inside = _mm256_and_ps(_mm256_castsi256_ps(_mm256_and_si256(inside_rows, inside_columns)), near);
            const int mask = _mm256_movemask_ps(inside);
            if (mask) {
                const __m256i top_left = _mm256_mullo_epi32(
                    _mm256_add_epi32(_mm256_mullo_epi32(r0, columns), c0), _mm256_set1_epi32(3));
                const __m256i bottom_left = _mm256_add_epi32(top_left, row_floats);
                const __m256 none = _mm256_setzero_ps();
                for (int c = 0; c < 3; c++) {
                    const __m256i tl = _mm256_add_epi32(top_left, _mm256_set1_epi32(c));
                    const __m256i bl = _mm256_add_epi32(bottom_left, _mm256_set1_epi32(c));
                    const __m256i tr = _mm256_add_epi32(tl, _mm256_set1_epi32(3));
                    const __m256i br = _mm256_add_epi32(bl, _mm256_set1_epi32(3));
                    const __m256 top = _mm256_add_ps(
                        _mm256_mul_ps(wx0, _mm256_mask_i32gather_ps(none, input, tl, inside, 4)),
                        _mm256_mul_ps(wx1, _mm256_mask_i32gather_ps(none, input, tr, inside, 4)));
                    const __m256 bottom = _mm256_add_ps(
                        _mm256_mul_ps(wx0, _mm256_mask_i32gather_ps(none, input, bl, inside, 4)),
                        _mm256_mul_ps(wx1, _mm256_mask_i32gather_ps(none, input, br, inside, 4)));
                    _mm256_store_ps(sampled[c], _mm256_add_ps(_mm256_mul_ps(wy0, top), _mm256_mul_ps(wy1, bottom)));
                }
            }
            float *pixel = out + ox * 3;
            for (int p = 0; p < 8; p++, pixel += 3) {
                if (mask & (1 << p)) {
                    pixel[0] = sampled[0][p];
                    pixel[1] = sampled[1][p];
                    pixel[2] = sampled[2][p];
                } else {
                    sample_row_range(input, pixel, oy, height, width, 3, t, fill_mode, 1, fill, ox + p, ox + p + 1);
                }
            }
        }
        sample_row_range(input, out + ox * 3, oy, height, width, 3, t, fill_mode, 1, fill, ox, width);
    }
}

/* Whether the vector paths take an image: bilinear RGB, axes of more than
 * one pixel, every index within 32 bits. */
static int vector_path_takes(int64_t height, int64_t width, int64_t channels, int32_t bilinear) {
    return bilinear && channels == 3 && height > 1 && width > 1 && height * width * 3 < ((int64_t)1 << 31) - width * 6;
}

__attribute__((target("avx512f"))) static void graft_affine_sample_avx512(
    const float *input, float *output, int64_t height, int64_t width, int64_t channels, const float transform[6],
    int32_t fill_mode, int32_t bilinear, float fill_value) {
    if (vector_path_takes(height, width, channels, bilinear)) {
        bilinear_rgb_rows_avx512(input, output, height, width, transform, fill_mode, fill_value);
    } else {
        graft_affine_sample_body(input, output, height, width, channels, transform, fill_mode, bilinear, fill_value);
    }
}
__attribute__((target("avx2,fma"))) static void graft_affine_sample_avx2(
    const float *input, float *output, int64_t height, int64_t width, int64_t channels, const float transform[6],
    int32_t fill_mode, int32_t bilinear, float fill_value) {
    if (vector_path_takes(height, width, channels, bilinear)) {
        bilinear_rgb_rows_avx2(input, output, height, width, transform, fill_mode, fill_value);
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
