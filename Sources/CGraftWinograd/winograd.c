#include "graft_winograd.h"
#include "graft_cpu.h"

#include <string.h>

// Swift's vectors compile to the x86-64 baseline (SSE, 4 lanes); these
// transforms run 16 lanes wide where the CPU has AVX-512 (and the channels
// come in sixteens), else 8 lanes on AVX2 or the baseline. 16 lanes ran
// F(4x4)'s transforms faster than 8, as a block's 36 vectors fit AVX-512's
// 32 registers far better than AVX2's 16, and 8 lanes ran them faster than
// Swift's 4 (bench/HISTORY.md has the measurements). Each lane computes
// the same operations in the same order at either width, so the results
// do not depend on it.

#define INLINE static inline __attribute__((always_inline))

// Three copies, picked by graft_isa(): 8 lanes at the baseline and on AVX2,
// 16 on AVX-512 where the channels come in sixteens.
typedef float v8 __attribute__((vector_size(32)));
#define VEC v8
#define LANES 8
#define NAME(f) f##_x8
#include "transforms.h"
#undef VEC
#undef LANES
#undef NAME

#if defined(__x86_64__)
#define VEC v8
#define LANES 8
#define NAME(f) f##_x8_avx2
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "transforms.h"
#pragma clang attribute pop
#undef VEC
#undef LANES
#undef NAME

typedef float v16 __attribute__((vector_size(64)));
#define VEC v16
#define LANES 16
#define NAME(f) f##_x16
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#include "transforms.h"
#pragma clang attribute pop
#undef VEC
#undef LANES
#undef NAME

#define DISPATCH(f, channels, ...)                                                        \
    (graft_isa() == GRAFT_ISA_AVX512 && (channels) % 16 == 0 ? f##_x16(__VA_ARGS__)      \
     : graft_isa() >= GRAFT_ISA_AVX2                         ? f##_x8_avx2(__VA_ARGS__) \
                                                             : f##_x8(__VA_ARGS__))
#else
#define DISPATCH(f, channels, ...) f##_x8(__VA_ARGS__)
#endif

void graft_winograd_input(int m, const float *const *pixels, size_t channels, float *out, size_t matrix_stride) {
    DISPATCH(input, channels, m, pixels, channels, out, matrix_stride);
}

void graft_winograd_output(int m, const float *products, size_t matrix_stride, size_t channels,
                           float *const *targets) {
    DISPATCH(output, channels, m, products, matrix_stride, channels, targets);
}

void graft_winograd_output_gradient(int m, const float *const *gradients, size_t channels, float *out,
                                    size_t matrix_stride) {
    DISPATCH(output_gradient, channels, m, gradients, channels, out, matrix_stride);
}

void graft_winograd_kernel(int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                           size_t in_channels) {
    DISPATCH(kernel, k, m, taps, tap_stride, k, out, panels, in_channels);
}

void graft_winograd_kernel_gradient(int m, const float *du, size_t tap_stride, size_t k, float *dkernel,
                                    int accumulate) {
    DISPATCH(kernel_gradient, k, m, du, tap_stride, k, dkernel, accumulate);
}
