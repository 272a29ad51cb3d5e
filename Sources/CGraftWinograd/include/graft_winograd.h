// The per-block transforms of Winograd's minimal filtering F(m×m, 3x3) for
// the two tilings Graft runs (m = 2 or 4), sixteen channels at a time
// where the CPU has AVX-512 and the channels come in sixteens, else eight
// (AVX2, or the baseline x86-64 or the target's own). Stateless and
// thread-safe; no pointer may alias another.
//
//   F(2x2, 3x3): Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
//                G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
//                Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]
//   F(4x4, 3x3): Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
//                      [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
//                G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙],
//                      [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
//                Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
//
// Every 2-D transform X ↦ T X Tᵀ is the 1-D one on the block's columns, then
// on the rows of the result. `m` is 2 or 4 and every channel count a
// multiple of 8.

#ifndef GRAFT_WINOGRAD_H
#define GRAFT_WINOGRAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// V = Bᵀ d B for one block: its (m+2)² input pixels (row-major; a zero
/// vector for padding) at `pixels`, element ξ of the result to
/// `out + ξ·matrix_stride`.
void graft_winograd_input(int m, const float *const *pixels, size_t channels, float *out, size_t matrix_stride);

/// Y = Aᵀ M A for one block, from element ξ of its products at
/// `products + ξ·matrix_stride`, to its m² output pixels at `targets`
/// (row-major; NULL for a pixel past the image's edge).
void graft_winograd_output(int m, const float *products, size_t matrix_stride, size_t channels,
                           float *const *targets);

/// dM = A dY Aᵀ for one block, the adjoint of graft_winograd_output: its m²
/// output-gradient pixels at `gradients` (row-major; a zero vector past the
/// edge), element ξ to `out + ξ·matrix_stride`.
void graft_winograd_output_gradient(int m, const float *const *gradients, size_t channels, float *out,
                                    size_t matrix_stride);

/// U = G g Gᵀ for one input channel of an HWIO 3x3 kernel and all `k` of
/// its output channels: tap t of output channel ko at `taps[t·tap_stride +
/// ko]`, element ξ to `out[ξ·tap_stride + column(ko)]`, where column(ko) is
/// ko, or with `panels` (32-column panels of an `in_channels`-row matrix)
/// (ko / 32)·32·in_channels + ko % 32.
void graft_winograd_kernel(int m, const float *taps, size_t tap_stride, size_t k, float *out, int panels,
                           size_t in_channels);

/// dg = Gᵀ dU G for one input channel and all `k` output channels, the
/// adjoint of graft_winograd_kernel (row-major U): element ξ at
/// `du[ξ·tap_stride + ko]`, tap t of the gradient at `dkernel[t·tap_stride + ko]`,
/// which it overwrites, or adds to when `accumulate` is non-zero.
void graft_winograd_kernel_gradient(int m, const float *du, size_t tap_stride, size_t k, float *dkernel,
                                    int accumulate);

#ifdef __cplusplus
}
#endif

#endif
