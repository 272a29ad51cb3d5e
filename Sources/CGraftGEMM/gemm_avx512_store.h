// The AVX-512 paths' tile store with the convolution epilogue (float32,
// bfloat16 and int8 products all end in it).

#ifndef GRAFT_GEMM_AVX512_STORE_H
#define GRAFT_GEMM_AVX512_STORE_H

#include <immintrin.h>
#include <stddef.h>

#define AVX512 __attribute__((target("avx512f,fma")))

/// Stores one row of a 32-column tile, y0 and y1, after the epilogue: the
/// bias (bias0, bias1: zeros without one), the residual row (or NULL), ReLU.
/// With `stream`, an aligned row goes straight to memory (see graft_gemm).
AVX512 static inline void store_row(float *c, __m512 y0, __m512 y1, __m512 bias0, __m512 bias1,
                                    const float *residual, int relu, int stream) {
    y0 = _mm512_add_ps(y0, bias0);
    y1 = _mm512_add_ps(y1, bias1);
    if (residual) {
        y0 = _mm512_add_ps(y0, _mm512_loadu_ps(residual));
        y1 = _mm512_add_ps(y1, _mm512_loadu_ps(residual + 16));
    }
    if (relu) {
        // maxps returns its second operand when either is NaN: y second
        // keeps a NaN, as TensorFlow's ReLU does.
        y0 = _mm512_max_ps(_mm512_setzero_ps(), y0);
        y1 = _mm512_max_ps(_mm512_setzero_ps(), y1);
    }
    if (stream && ((size_t)c & 63) == 0) {
        _mm512_stream_ps(c, y0);
        _mm512_stream_ps(c + 16, y1);
        return;
    }
    _mm512_storeu_ps(c, y0);
    _mm512_storeu_ps(c + 16, y1);
}

#endif
