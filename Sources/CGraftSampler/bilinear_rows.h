// Bilinear RGB rows LANES pixels at a time, included by affine_sampler.c
// once per width and instruction set with VEC and IVEC (float and int32
// vectors of LANES lanes), NAME (a suffix for every function),
// GATHER(base, index, mask) (the floats at base[index] where mask is set,
// 0 elsewhere) and MASK_BITS(mask) (one bit per lane).
//
// Each operation is the scalar code's (sample_row_range, map_coordinate,
// clamp_to), in its order, rounded on its own: the bits are the scalar
// code's. The pixels whose four neighbours lie inside the image (most of
// them) are read by gathers; the others go through the scalar code.

/// when_true where `mask` is set (all ones), otherwise elsewhere.
AI VEC NAME(select)(IVEC mask, VEC when_true, VEC otherwise) {
    return (VEC)((mask & (IVEC)when_true) | (~mask & (IVEC)otherwise));
}

AI VEC NAME(splat)(float x) { return (VEC){0} + x; }

/// clamp_to: the comparisons are false for NaN, as the scalar code's.
AI VEC NAME(clamp)(VEC c, VEC n1) {
    c = NAME(select)(c <= 0, NAME(splat)(0), c);
    return NAME(select)(n1 < c, n1, c);
}

/// map_coordinate, for an axis of more than one pixel. (float)(int64_t)v
/// is a truncation (the coordinates are small); the branches not taken
/// compute values no lane keeps.
AI VEC NAME(map)(VEC c, float size, int32_t fill_mode) {
    const float n = size, n1 = size - 1;
    const IVEC below = c < 0, above = c > n1;
    switch (fill_mode) {
    case GRAFT_SAMPLER_CONSTANT:
        return c;
    case GRAFT_SAMPLER_NEAREST:
        break;
    case GRAFT_SAMPLER_REFLECT: {
        const float period = 2 * n;
        VEC low = period * __builtin_elementwise_trunc(-c / period) + c;
        low = NAME(select)(low < -n, low + period, -low - 1);
        VEC high = c - period * __builtin_elementwise_trunc(c / period);
        high = NAME(select)(high >= n, period - high - 1, high);
        c = NAME(select)(below, low, NAME(select)(above, high, c));
        break;
    }
    default: {  // wrap
        const VEC low = c + n * (__builtin_elementwise_trunc(-c / n1) + 1);
        const VEC high = c - n * __builtin_elementwise_trunc(c / n1);
        c = NAME(select)(below, low, NAME(select)(above, high, c));
        break;
    }
    }
    return NAME(clamp)(c, NAME(splat)(n1));
}

/// A row or column index, clamped to [-1, size] first (a neighbour there
/// is outside either way; NaN becomes -1) so that the conversion is exact.
AI IVEC NAME(index)(VEC v, float size) {
    return __builtin_convertvector(
        __builtin_elementwise_min(__builtin_elementwise_max(v, NAME(splat)(-1)), NAME(splat)(size)), IVEC);
}

static void NAME(bilinear_rgb_rows)(const float *input, float *output, int64_t height, int64_t width,
                                    const float t[6], int32_t fill_mode, float fill) {
    VEC lane;
    for (int i = 0; i < LANES; i++) lane[i] = (float)i;
    float sampled[3][LANES] __attribute__((aligned(64)));
    const int32_t rows = (int32_t)height, columns = (int32_t)width;
    for (int64_t oy = 0; oy < height; oy++) {
        float *out = output + oy * width * 3;
        const float y = (float)oy, y_part_x = t[1] * y, y_part_y = t[4] * y;
        int64_t ox = 0;
        for (; ox + LANES <= width; ox += LANES) {
            const VEC x = (float)ox + lane;
            const VEC x_in = NAME(map)(t[0] * x + y_part_x + t[2], (float)width, fill_mode);
            const VEC y_in = NAME(map)(t[3] * x + y_part_y + t[5], (float)height, fill_mode);
            const VEC y0 = __builtin_elementwise_floor(y_in), x0 = __builtin_elementwise_floor(x_in);
            const VEC y1 = y0 + 1, x1 = x0 + 1;
            const VEC wx0 = x1 - x_in, wx1 = x_in - x0, wy0 = y1 - y_in, wy1 = y_in - y0;
            const IVEC r0 = NAME(index)(y0, (float)height), c0 = NAME(index)(x0, (float)width);
            const IVEC inside = (r0 >= 0) & (r0 + 1 < rows) & (c0 >= 0) & (c0 + 1 < columns);
            const unsigned bits = MASK_BITS(inside);
            if (bits) {
                const IVEC top_left = (r0 * columns + c0) * 3, bottom_left = top_left + columns * 3;
                for (int c = 0; c < 3; c++) {
                    const VEC top = wx0 * GATHER(input, top_left + c, inside)
                        + wx1 * GATHER(input, top_left + (c + 3), inside);
                    const VEC bottom = wx0 * GATHER(input, bottom_left + c, inside)
                        + wx1 * GATHER(input, bottom_left + (c + 3), inside);
                    const VEC value = wy0 * top + wy1 * bottom;
                    memcpy(sampled[c], &value, sizeof value);
                }
            }
            float *pixel = out + ox * 3;
            for (int p = 0; p < LANES; p++, pixel += 3) {
                if (bits & (1u << p)) {
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
