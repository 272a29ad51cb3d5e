// Passes over activations that move more memory than they compute:
// BatchNormalization's forward pass (its inference-mode affine map), the
// Add that applies the BatchNormalizations before it, and ReLU's gradient. Each runs over
// rows of `channels` values (one row per pixel, NHWC), as wide as the CPU
// runs (AVX-512, AVX2 or the x86-64 baseline, picked at load time), with
// every multiply and add rounded on its own, as Swift's and TensorFlow's
// are. Stateless and thread-safe: callers split the pixels between threads.

#ifndef GRAFT_ELEMENTWISE_H
#define GRAFT_ELEMENTWISE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out = x·scale + shift per channel, then max(·, 0) when `relu`, over
/// `pixels` rows. With `stream`, 64-byte aligned vectors of `out` are
/// written past the caches (for outputs too large to be read back from
/// them); `out` is complete when the call returns.
void graft_batchnorm_apply(size_t pixels, size_t channels, const float *x, const float *scale,
                           const float *shift, float *out, int relu, int stream);

/// out = a′ + b′, then max(·, 0) when `relu`, over `pixels` rows, where an
/// operand is as stored or, with its scale and shift (both NULL or both
/// given), x·scale + shift. `stream` as in graft_batchnorm_apply.
void graft_add_normalized(size_t pixels, size_t channels, const float *a, const float *a_scale,
                          const float *a_shift, const float *b, const float *b_scale, const float *b_shift,
                          float *out, int relu, int stream);

/// ReLU's backward pass over `count` values: dx = dy (+ plus, when not
/// NULL: the gradient of an output read by two layers, in two terms) where
/// the forward output y is positive, else 0.
void graft_relu_backward(size_t count, const float *y, const float *dy, const float *plus, float *dx);

/// The smallest and largest of `count` (≥ 1) values, into *low and *high;
/// a NaN among them makes *low NaN.
void graft_extremes(size_t count, const float *x, float *low, float *high);

#ifdef __cplusplus
}
#endif

#endif
