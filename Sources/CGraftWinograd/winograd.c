#include "graft_winograd.h"

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

#define VEC v8
#define LANES 8
#define NAME(f) f##_x8
#if defined(__x86_64__)
#define STATIC_VARIANT static __attribute__((target_clones("avx2", "default")))
#else
#define STATIC_VARIANT static
#endif
typedef float v8 __attribute__((vector_size(32)));
#include "transforms.h"
#undef VEC
#undef LANES
#undef NAME
#undef STATIC_VARIANT

#if defined(__x86_64__)
#define WIDE 1
#define VEC v16
#define LANES 16
#define NAME(f) f##_x16
#define STATIC_VARIANT static
typedef float v16 __attribute__((vector_size(64)));
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#include "transforms.h"
#pragma clang attribute pop
#undef VEC
#undef LANES
#undef NAME
#undef STATIC_VARIANT
#else
#define WIDE 0
#endif

#if WIDE
static int avx512; // set once, when the library loads

__attribute__((constructor)) static void detect_avx512(void) {
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f");
}
#endif

/// Whether `channels` run 16 lanes wide here.
static int wide(size_t channels) {
#if WIDE
    return avx512 && channels % 16 == 0;
#else
    (void)channels;
    return 0;
#endif
}

#if WIDE
#define DISPATCH(f, channels, ...) (wide(channels) ? f##_x16(__VA_ARGS__) : f##_x8(__VA_ARGS__))
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
