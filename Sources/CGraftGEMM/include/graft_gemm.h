// Single-threaded matrix products for the shapes of ResNet's pointwise (1x1)
// convolutions: many rows (pixels), a few hundred or thousand columns
// (channels), with the bias, residual and ReLU of the epilogue applied in
// registers before the tile is stored. AVX-512 or AVX2+FMA, as graft_isa()
// says (the baseline has none: the caller uses OpenBLAS there, and where
// these do not apply). The caller splits rows between threads.

#ifndef GRAFT_GEMM_H
#define GRAFT_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Columns per packed panel of B: every n given below is a multiple of it.
#define GRAFT_GEMM_PANEL 32

/// Nonzero when the float32 kernels run here: graft_isa() is AVX-512 or
/// AVX2. graft_gemm_pack, graft_gemm and graft_gemm_tn are called only then.
int graft_gemm_available(void);

/// Packs B (k×n, n a multiple of GRAFT_GEMM_PANEL) into panels of 32
/// columns, k rows each: packed[(p·k + r)·32 + j] = B[r][p·32 + j], times
/// scale[r] when `scale` (k floats) is not NULL.
/// B[r][c] is b[r·ldb + c], or b[c·ldb + r] when `transposed`.
void graft_gemm_pack(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                     float *packed);

/// C = A·B (+ bias) (+ residual), then max(·, 0) when `relu`: A is m×k
/// with rows at stride lda; B is packed by graft_gemm_pack; C and residual
/// are m×n with rows at stride ldc; bias (n) and residual may be NULL.
/// Where rows of A are a multiple of 4 KiB apart, they are packed in a
/// buffer the calling thread keeps from call to call (about 256 KiB, or
/// 12·k floats if more) and frees when it ends.
/// With `stream` nonzero, C's 64-byte aligned rows are written with
/// non-temporal stores, straight to memory: for a C too large to be read
/// back from cache, this saves reading each of its lines in before it is
/// written. C is complete when the call returns.
void graft_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed,
                float *c, size_t ldc, const float *bias, const float *residual, int relu, int stream);

/// B = Aᵀ: A is rows×columns (stride lda), B columns×rows (stride ldb). On
/// any CPU: in 16x16 register blocks on the AVX-512 path, element by element
/// elsewhere.
void graft_transpose(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb);

/// C = Aᵀ·B (+ C when `accumulate`): A is stored k×m (rows at stride lda),
/// B k×n (stride ldb, n a multiple of GRAFT_GEMM_PANEL), C m×n (stride ldc).
/// Both are read in place, unpacked: this is the kernel gradient's product,
/// a sum over pixels or Winograd tiles of the outer products of a row of
/// the input and a row of the output gradient.
void graft_gemm_tn(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                   float *c, size_t ldc, int accumulate);

/// Nonzero when the bfloat16 kernel runs here: the AVX-512 path, on a CPU
/// with AVX512_BF16.
int graft_gemm_bf16_available(void);

/// Words of the bfloat16 packing of a k×n B.
size_t graft_gemm_bf16_packed_words(size_t k, size_t n);

/// Packs B (times `scale`) as graft_gemm_pack does, in bfloat16 (rounded
/// to nearest even) and in pairs of rows: word (p·⌈k/2⌉ + i)·32 + j of `packed` holds
/// B[2i][p·32 + j] in its low half and B[2i + 1][p·32 + j] (0 past k) in
/// its high half, as the bfloat16 dot product reads them.
void graft_gemm_pack_bf16(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                          unsigned int *packed);

/// graft_gemm with A rounded to bfloat16 and B packed by
/// graft_gemm_pack_bf16: each product of two bfloat16 values is exact and
/// the sums are kept in float32. A's rounded rows go to the calling
/// thread's buffer (as graft_gemm's). Returns 0, or -1 if out of memory (C
/// is then unspecified).
int graft_gemm_bf16(size_t m, size_t n, size_t k, const float *a, size_t lda, const unsigned int *packed,
                    float *c, size_t ldc, const float *bias, const float *residual, int relu, int stream);

/// Nonzero when the int8 kernel runs here: the AVX-512 path, on a CPU with
/// AVX512_VNNI.
int graft_gemm_int8_available(void);

/// Bytes of the int8 packing of a k×n B.
size_t graft_gemm_int8_packed_bytes(size_t k, size_t n);

/// Packs B (as graft_gemm_pack reads it, no row scale) as signed bytes with
/// one scale per column, written to `column_scales` (n floats): the
/// column's largest magnitude over 127 (1 for a column of zeros). Byte
/// ((p·⌈k/4⌉ + g)·32 + j)·4 + t of `packed` holds B[4g + t][p·32 + j] over
/// its column's scale, rounded to nearest even (0 past k): the four bytes a
/// vpdpbusd lane multiplies.
void graft_gemm_pack_int8(const float *b, size_t ldb, int transposed, size_t k, size_t n, float *column_scales,
                          signed char *packed);

/// graft_gemm with A quantized to unsigned bytes (x·inverse_scale rounded
/// to nearest even, held to [0, 255], NaN read as 0: A's values are meant
/// to be ReLU's, at most 255 / inverse_scale) and B packed by graft_gemm_pack_int8, the
/// products summed exactly in int32, each column's sum times
/// column_scales[j] (A's scale times B's column scale) before the epilogue.
/// A's bytes go to the calling thread's buffer (as graft_gemm's). Returns
/// 0, or -1 if out of memory (C is then unspecified).
int graft_gemm_int8(size_t m, size_t n, size_t k, const float *a, size_t lda, float inverse_scale,
                    const signed char *packed, const float *column_scales, float *c, size_t ldc,
                    const float *bias, const float *residual, int relu, int stream);

#ifdef __cplusplus
}
#endif

#endif
