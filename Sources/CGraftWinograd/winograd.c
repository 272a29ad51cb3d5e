#include "graft_winograd.h"

#include <string.h>

// Swift's vectors compile to the x86-64 baseline (SSE, 4 lanes); these
// transforms run on 8-lane AVX2 where the CPU has it (measured at batch 32,
// against the same transforms in Swift: F(4x4)'s forward pass and input
// and kernel gradients at conv2_x to conv4_x 12–25% faster in all).
#if defined(__x86_64__)
#define DISPATCHED __attribute__((target_clones("avx2", "default")))
#else
#define DISPATCHED
#endif

#define INLINE static inline __attribute__((always_inline))

typedef float v8 __attribute__((vector_size(32)));

INLINE v8 load(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store(float *p, v8 v) { memcpy(p, &v, sizeof v); }

// 1-D transforms: `x` read at stride xs, `y` written at stride ys.
typedef void (*transform)(const v8 *x, int xs, v8 *y, int ys);

/// Bᵀ of F(2x2), 4 → 4.
INLINE void bt4(const v8 *x, int xs, v8 *y, int ys) {
    v8 a = x[0], b = x[xs], c = x[2 * xs], d = x[3 * xs];
    y[0] = a - c, y[ys] = b + c, y[2 * ys] = c - b, y[3 * ys] = b - d;
}

/// Bᵀ of F(4x4), 6 → 6.
INLINE void bt6(const v8 *x, int xs, v8 *y, int ys) {
    v8 d0 = x[0], d1 = x[xs], d2 = x[2 * xs], d3 = x[3 * xs], d4 = x[4 * xs], d5 = x[5 * xs];
    v8 a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1);
    y[0] = 4 * d0 - 5 * d2 + d4, y[ys] = a + b, y[2 * ys] = a - b;
    y[3 * ys] = c + e, y[4 * ys] = c - e, y[5 * ys] = 4 * d1 - 5 * d3 + d5;
}

/// Aᵀ of F(2x2), 4 → 2.
INLINE void at4(const v8 *x, int xs, v8 *y, int ys) {
    v8 a = x[0], b = x[xs], c = x[2 * xs], d = x[3 * xs];
    y[0] = a + b + c, y[ys] = b - c - d;
}

/// Aᵀ of F(4x4), 6 → 4.
INLINE void at6(const v8 *x, int xs, v8 *y, int ys) {
    v8 p = x[xs] + x[2 * xs], q = x[xs] - x[2 * xs], r = x[3 * xs] + x[4 * xs], s = x[3 * xs] - x[4 * xs];
    y[0] = x[0] + p + r, y[ys] = q + 2 * s, y[2 * ys] = p + 4 * r, y[3 * ys] = q + 8 * s + x[5 * xs];
}

/// A of F(2x2) (Aᵀ's adjoint), 2 → 4.
INLINE void a2(const v8 *x, int xs, v8 *y, int ys) {
    v8 p = x[0], q = x[xs];
    y[0] = p, y[ys] = p + q, y[2 * ys] = p - q, y[3 * ys] = -q;
}

/// A of F(4x4), 4 → 6.
INLINE void a4(const v8 *x, int xs, v8 *y, int ys) {
    v8 y0 = x[0], y1 = x[xs], y2 = x[2 * xs], y3 = x[3 * xs];
    v8 even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd2 = 2 * y1 + 8 * y3;
    y[0] = y0, y[ys] = even + odd, y[2 * ys] = even - odd, y[3 * ys] = even4 + odd2, y[4 * ys] = even4 - odd2;
    y[5 * ys] = y3;
}

/// G of F(2x2), 3 → 4.
INLINE void g4(const v8 *x, int xs, v8 *y, int ys) {
    v8 a = x[0], b = x[xs], c = x[2 * xs];
    y[0] = a, y[ys] = (a + b + c) * 0.5f, y[2 * ys] = (a - b + c) * 0.5f, y[3 * ys] = c;
}

/// G of F(4x4), 3 → 6.
INLINE void g6(const v8 *x, int xs, v8 *y, int ys) {
    v8 a = x[0], b = x[xs], c = x[2 * xs];
    v8 outer = a + c, quarter = a * (1.0f / 24) + c * (1.0f / 6), twelfth = b * (1.0f / 12);
    y[0] = a * 0.25f, y[ys] = (outer + b) * (-1.0f / 6), y[2 * ys] = (outer - b) * (-1.0f / 6);
    y[3 * ys] = quarter + twelfth, y[4 * ys] = quarter - twelfth, y[5 * ys] = c;
}

/// Gᵀ of F(2x2) (G's adjoint), 4 → 3.
INLINE void gt4(const v8 *x, int xs, v8 *y, int ys) {
    v8 half = (x[xs] + x[2 * xs]) * 0.5f;
    y[0] = x[0] + half, y[ys] = (x[xs] - x[2 * xs]) * 0.5f, y[2 * ys] = half + x[3 * xs];
}

/// Gᵀ of F(4x4), 6 → 3.
INLINE void gt6(const v8 *x, int xs, v8 *y, int ys) {
    v8 sixth = (x[xs] + x[2 * xs]) * (-1.0f / 6), sum34 = x[3 * xs] + x[4 * xs];
    y[0] = x[0] * 0.25f + sixth + sum34 * (1.0f / 24);
    y[ys] = (x[2 * xs] - x[xs]) * (1.0f / 6) + (x[3 * xs] - x[4 * xs]) * (1.0f / 12);
    y[2 * ys] = sixth + sum34 * (1.0f / 6) + x[5 * xs];
}

/// Y = T X Tᵀ for an n_in×n_in block X (row-major), T the n_out×n_in `f`:
/// `f` on X's columns, then on the rows of the result.
INLINE void transform2d(transform f, int n_in, int n_out, const v8 *x, v8 *y) {
    v8 t[36];
    for (int j = 0; j < n_in; j++) f(x + j, n_in, t + j, n_in);
    for (int i = 0; i < n_out; i++) f(t + i * n_in, 1, y + i * n_out, 1);
}

// Each function runs its body with the block's sizes constant, so that the
// loops over the block unroll and the block stays in registers or at least
// in L1.

/// The n_out² elements of T X Tᵀ for one block X of n_in² pixels, gathered
/// from `pixels` (row-major), to `out + ξ·stride`: the input transform, and
/// the output gradient's.
INLINE void gathered_block(transform f, const int n_in, const int n_out, const float *const *pixels,
                           size_t channels, float *out, size_t stride) {
    for (size_t c = 0; c < channels; c += 8) {
        v8 x[36], y[36];
        for (int i = 0; i < n_in * n_in; i++) x[i] = load(pixels[i] + c);
        transform2d(f, n_in, n_out, x, y);
        for (int i = 0; i < n_out * n_out; i++) store(out + i * stride + c, y[i]);
    }
}

DISPATCHED void graft_winograd_input(int m, const float *const *pixels, size_t channels, float *out,
                                     size_t matrix_stride) {
    if (m == 2) gathered_block(bt4, 4, 4, pixels, channels, out, matrix_stride);
    else gathered_block(bt6, 6, 6, pixels, channels, out, matrix_stride);
}

INLINE void output_block(const int m, const float *products, size_t stride, size_t channels, float *const *targets) {
    const int n = m + 2;
    for (size_t c = 0; c < channels; c += 8) {
        v8 x[36], y[16];
        for (int i = 0; i < n * n; i++) x[i] = load(products + i * stride + c);
        transform2d(m == 2 ? at4 : at6, n, m, x, y);
        for (int i = 0; i < m * m; i++) {
            if (targets[i]) store(targets[i] + c, y[i]);
        }
    }
}

DISPATCHED void graft_winograd_output(int m, const float *products, size_t matrix_stride, size_t channels,
                                      float *const *targets) {
    if (m == 2) output_block(2, products, matrix_stride, channels, targets);
    else output_block(4, products, matrix_stride, channels, targets);
}

DISPATCHED void graft_winograd_output_gradient(int m, const float *const *gradients, size_t channels, float *out,
                                               size_t matrix_stride) {
    if (m == 2) gathered_block(a2, 2, 4, gradients, channels, out, matrix_stride);
    else gathered_block(a4, 4, 6, gradients, channels, out, matrix_stride);
}

INLINE void kernel_row(const int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                       size_t in_channels) {
    const int n = m + 2;
    for (size_t ko = 0; ko < k; ko += 8) {
        v8 x[9], y[36];
        for (int t = 0; t < 9; t++) x[t] = load(taps + t * tap_stride + ko);
        transform2d(m == 2 ? g4 : g6, 3, n, x, y);
        // Eight output channels never straddle a 32-column panel.
        size_t column = panels ? ko / 32 * 32 * in_channels + ko % 32 : ko;
        for (int i = 0; i < n * n; i++) store(out + i * tap_stride + column, y[i]);
    }
}

DISPATCHED void graft_winograd_kernel(int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                                      size_t in_channels) {
    if (m == 2) kernel_row(2, taps, tap_stride, k, out, panels, in_channels);
    else kernel_row(4, taps, tap_stride, k, out, panels, in_channels);
}

INLINE void kernel_gradient_row(const int m, const float *du, size_t tap_stride, size_t k, float *dkernel) {
    const int n = m + 2;
    for (size_t ko = 0; ko < k; ko += 8) {
        v8 x[36], y[9];
        for (int i = 0; i < n * n; i++) x[i] = load(du + i * tap_stride + ko);
        transform2d(m == 2 ? gt4 : gt6, n, 3, x, y);
        for (int t = 0; t < 9; t++) store(dkernel + t * tap_stride + ko, y[t]);
    }
}

DISPATCHED void graft_winograd_kernel_gradient(int m, const float *du, size_t tap_stride, size_t k, float *dkernel) {
    if (m == 2) kernel_gradient_row(2, du, tap_stride, k, dkernel);
    else kernel_gradient_row(4, du, tap_stride, k, dkernel);
}
