// TensorFlow's ImageProjectiveTransformV3 for affine transforms (what
// Keras's RandomRotation, RandomZoom and RandomTranslation run): each output
// pixel samples the input at the transform of its own coordinates, mapped
// into the image by the fill mode, then read nearest or bilinearly.
// GraftData's AffineSampler documents the semantics; this is its loop, in C
// so that it compiles without Swift's overflow and conversion checks, each
// operation rounded on its own (no fused multiply-adds), as TensorFlow's
// float32 arithmetic. Stateless and thread-safe.

#ifndef GRAFT_AFFINE_SAMPLER_H
#define GRAFT_AFFINE_SAMPLER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Keras's fill_mode.
enum { GRAFT_SAMPLER_REFLECT = 0, GRAFT_SAMPLER_WRAP = 1, GRAFT_SAMPLER_CONSTANT = 2, GRAFT_SAMPLER_NEAREST = 3 };

/// Writes `input` (height x width x channels floats) transformed into
/// `output` (the same size, not overlapping it). `transform`: a0, a1, a2,
/// b0, b1, b2, with x_in = a0*x + a1*y + a2 and y_in = b0*x + b1*y + b2.
/// `bilinear`: 1 for bilinear reads, 0 for nearest (rounded half away from
/// zero). Reads outside the image give `fill_value`.
void graft_affine_sample(const float *input, float *output, int64_t height, int64_t width, int64_t channels,
                         const float transform[6], int32_t fill_mode, int32_t bilinear, float fill_value);

#ifdef __cplusplus
}
#endif

#endif
