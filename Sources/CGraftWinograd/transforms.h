// The per-block transforms at one vector width, included by winograd.c
// once per width and instruction set with VEC (the vector type, LANES
// floats) and NAME (a suffix for every function).

INLINE VEC NAME(load)(const float *p) {
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void NAME(store)(float *p, VEC v) { memcpy(p, &v, sizeof v); }

// 1-D transforms: `x` read at stride xs, `y` written at stride ys.
typedef void (*NAME(transform))(const VEC *x, int xs, VEC *y, int ys);

/// Bᵀ of F(2x2), 4 → 4.
INLINE void NAME(bt4)(const VEC *x, int xs, VEC *y, int ys) {
    VEC a = x[0], b = x[xs], c = x[2 * xs], d = x[3 * xs];
    y[0] = a - c, y[ys] = b + c, y[2 * ys] = c - b, y[3 * ys] = b - d;
}

/// Bᵀ of F(4x4), 6 → 6.
INLINE void NAME(bt6)(const VEC *x, int xs, VEC *y, int ys) {
    VEC d0 = x[0], d1 = x[xs], d2 = x[2 * xs], d3 = x[3 * xs], d4 = x[4 * xs], d5 = x[5 * xs];
    VEC a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1);
    y[0] = 4 * d0 - 5 * d2 + d4, y[ys] = a + b, y[2 * ys] = a - b;
    y[3 * ys] = c + e, y[4 * ys] = c - e, y[5 * ys] = 4 * d1 - 5 * d3 + d5;
}

/// Aᵀ of F(2x2), 4 → 2.
INLINE void NAME(at4)(const VEC *x, int xs, VEC *y, int ys) {
    VEC a = x[0], b = x[xs], c = x[2 * xs], d = x[3 * xs];
    y[0] = a + b + c, y[ys] = b - c - d;
}

/// Aᵀ of F(4x4), 6 → 4.
INLINE void NAME(at6)(const VEC *x, int xs, VEC *y, int ys) {
    VEC p = x[xs] + x[2 * xs], q = x[xs] - x[2 * xs], r = x[3 * xs] + x[4 * xs], s = x[3 * xs] - x[4 * xs];
    y[0] = x[0] + p + r, y[ys] = q + 2 * s, y[2 * ys] = p + 4 * r, y[3 * ys] = q + 8 * s + x[5 * xs];
}

/// A of F(2x2) (Aᵀ's adjoint), 2 → 4.
INLINE void NAME(a2)(const VEC *x, int xs, VEC *y, int ys) {
    VEC p = x[0], q = x[xs];
    y[0] = p, y[ys] = p + q, y[2 * ys] = p - q, y[3 * ys] = -q;
}

/// A of F(4x4), 4 → 6.
INLINE void NAME(a4)(const VEC *x, int xs, VEC *y, int ys) {
    VEC y0 = x[0], y1 = x[xs], y2 = x[2 * xs], y3 = x[3 * xs];
    VEC even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd2 = 2 * y1 + 8 * y3;
    y[0] = y0, y[ys] = even + odd, y[2 * ys] = even - odd, y[3 * ys] = even4 + odd2, y[4 * ys] = even4 - odd2;
    y[5 * ys] = y3;
}

/// G of F(2x2), 3 → 4.
INLINE void NAME(g4)(const VEC *x, int xs, VEC *y, int ys) {
    VEC a = x[0], b = x[xs], c = x[2 * xs];
    y[0] = a, y[ys] = (a + b + c) * 0.5f, y[2 * ys] = (a - b + c) * 0.5f, y[3 * ys] = c;
}

/// G of F(4x4), 3 → 6.
INLINE void NAME(g6)(const VEC *x, int xs, VEC *y, int ys) {
    VEC a = x[0], b = x[xs], c = x[2 * xs];
    VEC outer = a + c, quarter = a * (1.0f / 24) + c * (1.0f / 6), twelfth = b * (1.0f / 12);
    y[0] = a * 0.25f, y[ys] = (outer + b) * (-1.0f / 6), y[2 * ys] = (outer - b) * (-1.0f / 6);
    y[3 * ys] = quarter + twelfth, y[4 * ys] = quarter - twelfth, y[5 * ys] = c;
}

/// Gᵀ of F(2x2) (G's adjoint), 4 → 3.
INLINE void NAME(gt4)(const VEC *x, int xs, VEC *y, int ys) {
    VEC half = (x[xs] + x[2 * xs]) * 0.5f;
    y[0] = x[0] + half, y[ys] = (x[xs] - x[2 * xs]) * 0.5f, y[2 * ys] = half + x[3 * xs];
}

/// Gᵀ of F(4x4), 6 → 3.
INLINE void NAME(gt6)(const VEC *x, int xs, VEC *y, int ys) {
    VEC sixth = (x[xs] + x[2 * xs]) * (-1.0f / 6), sum34 = x[3 * xs] + x[4 * xs];
    y[0] = x[0] * 0.25f + sixth + sum34 * (1.0f / 24);
    y[ys] = (x[2 * xs] - x[xs]) * (1.0f / 6) + (x[3 * xs] - x[4 * xs]) * (1.0f / 12);
    y[2 * ys] = sixth + sum34 * (1.0f / 6) + x[5 * xs];
}

/// Y = T X Tᵀ for an n_in×n_in block X (row-major), T the n_out×n_in `f`:
/// `f` on X's columns, then on the rows of the result.
INLINE void NAME(transform2d)(NAME(transform) f, int n_in, int n_out, const VEC *x, VEC *y) {
    VEC t[36];
    for (int j = 0; j < n_in; j++) f(x + j, n_in, t + j, n_in);
    for (int i = 0; i < n_out; i++) f(t + i * n_in, 1, y + i * n_out, 1);
}

// Each function runs its body with the block's sizes constant, so that the
// loops over the block unroll and the block stays in registers or at least
// in L1.

/// The n_out² elements of T X Tᵀ for one block X of n_in² pixels, gathered
/// from `pixels` (row-major), to `out + ξ·stride`: the input NAME(transform), and
/// the output gradient's.
INLINE void NAME(gathered_block)(NAME(transform) f, const int n_in, const int n_out, const float *const *pixels,
                           size_t channels, float *out, size_t stride) {
    for (size_t c = 0; c < channels; c += LANES) {
        VEC x[36], y[36];
        for (int i = 0; i < n_in * n_in; i++) x[i] = NAME(load)(pixels[i] + c);
        NAME(transform2d)(f, n_in, n_out, x, y);
        for (int i = 0; i < n_out * n_out; i++) NAME(store)(out + i * stride + c, y[i]);
    }
}

static void NAME(input)(int m, const float *const *pixels, size_t channels, float *out,
                                     size_t matrix_stride) {
    if (m == 2) NAME(gathered_block)(NAME(bt4), 4, 4, pixels, channels, out, matrix_stride);
    else NAME(gathered_block)(NAME(bt6), 6, 6, pixels, channels, out, matrix_stride);
}

INLINE void NAME(output_block)(const int m, const float *products, size_t stride, size_t channels, float *const *targets) {
    const int n = m + 2;
    for (size_t c = 0; c < channels; c += LANES) {
        VEC x[36], y[16];
        for (int i = 0; i < n * n; i++) x[i] = NAME(load)(products + i * stride + c);
        NAME(transform2d)(m == 2 ? NAME(at4) : NAME(at6), n, m, x, y);
        for (int i = 0; i < m * m; i++) {
            if (targets[i]) NAME(store)(targets[i] + c, y[i]);
        }
    }
}

static void NAME(output)(int m, const float *products, size_t matrix_stride, size_t channels,
                                      float *const *targets) {
    if (m == 2) NAME(output_block)(2, products, matrix_stride, channels, targets);
    else NAME(output_block)(4, products, matrix_stride, channels, targets);
}

static void NAME(output_gradient)(int m, const float *const *gradients, size_t channels, float *out,
                                               size_t matrix_stride) {
    if (m == 2) NAME(gathered_block)(NAME(a2), 2, 4, gradients, channels, out, matrix_stride);
    else NAME(gathered_block)(NAME(a4), 4, 6, gradients, channels, out, matrix_stride);
}

INLINE void NAME(kernel_row)(const int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                       size_t in_channels) {
    const int n = m + 2;
    for (size_t ko = 0; ko < k; ko += LANES) {
        VEC x[9], y[36];
        for (int t = 0; t < 9; t++) x[t] = NAME(load)(taps + t * tap_stride + ko);
        NAME(transform2d)(m == 2 ? NAME(g4) : NAME(g6), 3, n, x, y);
        // A vector of output channels never straddles a 32-column panel.
        size_t column = panels ? ko / 32 * 32 * in_channels + ko % 32 : ko;
        for (int i = 0; i < n * n; i++) NAME(store)(out + i * tap_stride + column, y[i]);
    }
}

static void NAME(kernel)(int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                                      size_t in_channels) {
    if (m == 2) NAME(kernel_row)(2, taps, tap_stride, k, out, panels, in_channels);
    else NAME(kernel_row)(4, taps, tap_stride, k, out, panels, in_channels);
}

INLINE void NAME(kernel_gradient_row)(const int m, const float *du, size_t tap_stride, size_t k, float *dkernel,
                                      int accumulate) {
    const int n = m + 2;
    for (size_t ko = 0; ko < k; ko += LANES) {
        VEC x[36], y[9];
        for (int i = 0; i < n * n; i++) x[i] = NAME(load)(du + i * tap_stride + ko);
        NAME(transform2d)(m == 2 ? NAME(gt4) : NAME(gt6), n, 3, x, y);
        if (accumulate) {
            for (int t = 0; t < 9; t++) y[t] += NAME(load)(dkernel + t * tap_stride + ko);
        }
        for (int t = 0; t < 9; t++) NAME(store)(dkernel + t * tap_stride + ko, y[t]);
    }
}

static void NAME(kernel_gradient)(int m, const float *du, size_t tap_stride, size_t k, float *dkernel,
                                          int accumulate) {
    if (m == 2) NAME(kernel_gradient_row)(2, du, tap_stride, k, dkernel, accumulate);
    else NAME(kernel_gradient_row)(4, du, tap_stride, k, dkernel, accumulate);
}
