#include "graft_elementwise.h"
#include "graft_cpu.h"

#include <stdint.h>
#include <string.h>

// Compiled for AVX-512, AVX2 and the x86-64 baseline, picked by graft_isa():
// in Swift's baseline vectors these passes ran below memory speed
// (bench/HISTORY.md has the measurement).
// Streamed stores are weakly ordered: each pass drains them (FENCE) before
// it returns, and so before another thread can be told the output is ready.
#if defined(__x86_64__)
#include <xmmintrin.h>
#define FENCE() _mm_sfence()
#else
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#define BODY static inline __attribute__((always_inline))

#define LANES 16
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t mask __attribute__((vector_size(LANES * sizeof(float))));

// Vector helpers are macros: a 16-float vector cannot be passed to or
// returned from a function in the baseline clone.

/// The vector at `p` (unaligned).
#define LOAD(p) ({ vec loaded_; memcpy(&loaded_, (p), sizeof loaded_); loaded_; })

/// Stores vector `v` at `p`, past the caches when `stream` and `p` is aligned.
#define STORE(p, v, stream)                                                   \
    do {                                                                      \
        vec stored_ = (v);                                                    \
        float *at_ = (p);                                                     \
        if ((stream) && ((uintptr_t)at_ & (sizeof stored_ - 1)) == 0) {       \
            __builtin_nontemporal_store(stored_, (vec *)at_);                 \
        } else {                                                              \
            memcpy(at_, &stored_, sizeof stored_);                            \
        }                                                                     \
    } while (0)

/// max(v, 0), keeping NaN (as `v < 0 ? 0 : v` does).
#define RELU(v) ({ vec relu_ = (v); (vec)((mask)relu_ & ~(relu_ < 0)); })

/// Operand `x` at float `at` (channel `c`), normalised when `scale` is given.
#define OPERAND(x, scale, shift, at, c) \
    ((scale) ? LOAD((x) + (at)) * LOAD((scale) + (c)) + LOAD((shift) + (c)) : LOAD((x) + (at)))

BODY float relu1(float v) { return v < 0 ? 0 : v; }

BODY void graft_batchnorm_apply_body(size_t pixels, size_t channels, const float *x, const float *scale,
                                     const float *shift, float *out, int relu_after, int stream) {
    size_t vector_channels = channels - channels % LANES;
    for (size_t p = 0; p < pixels; p++) {
        const float *row = x + p * channels;
        float *target = out + p * channels;
        for (size_t c = 0; c < vector_channels; c += LANES) {
            vec y = LOAD(row + c) * LOAD(scale + c) + LOAD(shift + c);
            STORE(target + c, relu_after ? RELU(y) : y, stream);
        }
        for (size_t c = vector_channels; c < channels; c++) {
            float y = row[c] * scale[c] + shift[c];
            target[c] = relu_after ? relu1(y) : y;
        }
    }
    if (stream) FENCE();
}
GRAFT_ISA_DISPATCH(graft_batchnorm_apply,
                   (size_t pixels, size_t channels, const float *x, const float *scale, const float *shift,
                    float *out, int relu_after, int stream),
                   (pixels, channels, x, scale, shift, out, relu_after, stream))

BODY float operand1(const float *x, const float *scale, const float *shift, size_t at, size_t c) {
    return scale ? x[at] * scale[c] + shift[c] : x[at];
}

BODY void graft_add_normalized_body(size_t pixels, size_t channels, const float *a, const float *a_scale,
                                    const float *a_shift, const float *b, const float *b_scale,
                                    const float *b_shift, float *out, int relu_after, int stream) {
    size_t vector_channels = channels - channels % LANES;
    for (size_t p = 0; p < pixels; p++) {
        size_t row = p * channels;
        for (size_t c = 0; c < vector_channels; c += LANES) {
            vec y = OPERAND(a, a_scale, a_shift, row + c, c) + OPERAND(b, b_scale, b_shift, row + c, c);
            STORE(out + row + c, relu_after ? RELU(y) : y, stream);
        }
        for (size_t c = vector_channels; c < channels; c++) {
            float y = operand1(a, a_scale, a_shift, row + c, c) + operand1(b, b_scale, b_shift, row + c, c);
            out[row + c] = relu_after ? relu1(y) : y;
        }
    }
    if (stream) FENCE();
}
GRAFT_ISA_DISPATCH(graft_add_normalized,
                   (size_t pixels, size_t channels, const float *a, const float *a_scale,
                    const float *a_shift, const float *b, const float *b_scale, const float *b_shift,
                    float *out, int relu_after, int stream),
                   (pixels, channels, a, a_scale, a_shift, b, b_scale, b_shift, out, relu_after, stream))

BODY void graft_relu_backward_body(size_t count, const float *y, const float *dy, const float *plus, float *dx) {
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        vec g = plus ? LOAD(dy + i) + LOAD(plus + i) : LOAD(dy + i);
        STORE(dx + i, (vec)((mask)g & (LOAD(y + i) > 0)), 0);
    }
    for (; i < count; i++) dx[i] = y[i] > 0 ? dy[i] + (plus ? plus[i] : 0) : 0;
}
GRAFT_ISA_DISPATCH(graft_relu_backward,
                   (size_t count, const float *y, const float *dy, const float *plus, float *dx),
                   (count, y, dy, plus, dx))

BODY void graft_extremes_body(size_t count, const float *x, float *low, float *high) {
    vec lo = {0}, hi = {0};
    mask nan = {0};
    size_t i = 0;
    if (count >= LANES) {
        lo = hi = LOAD(x);
        for (; i + LANES <= count; i += LANES) {
            vec v = LOAD(x + i);
            lo = __builtin_elementwise_min(lo, v);
            hi = __builtin_elementwise_max(hi, v);
            nan |= v != v;
        }
    }
    float l = count >= LANES ? lo[0] : x[0], h = count >= LANES ? hi[0] : x[0];
    int seen_nan = 0;
    for (int j = 0; j < LANES && count >= LANES; j++) {
        l = lo[j] < l ? lo[j] : l;
        h = hi[j] > h ? hi[j] : h;
        seen_nan |= nan[j] != 0;
    }
    for (; i < count; i++) {
        l = x[i] < l ? x[i] : l;
        h = x[i] > h ? x[i] : h;
        seen_nan |= x[i] != x[i];
    }
    *low = seen_nan ? __builtin_nanf("") : l;
    *high = h;
}
GRAFT_ISA_DISPATCH(graft_extremes, (size_t count, const float *x, float *low, float *high), (count, x, low, high))
