#include "gemm_paths.h"
#include "graft_cpu.h"

#include <pthread.h>
#include <stdlib.h>

// Each thread keeps one scratch buffer for rows of A (packed, or converted
// to bfloat16) from call to call, freed when the thread ends: a program that
// calls from many short-lived threads leaks none.
struct scratch {
    void *data;
    size_t bytes;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
    struct scratch *s = p;
    free(s->data);
    free(s);
}

static void scratch_key_create(void) { pthread_key_create(&scratch_key, scratch_free); }

void *graft_gemm_thread_scratch(size_t bytes) {
    pthread_once(&scratch_once, scratch_key_create);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->bytes < bytes) {
        free(s->data);
        s->bytes = 0;
        s->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!s->data) return NULL;
        s->bytes = bytes;
    }
    return s->data;
}

int graft_gemm_available(void) { return graft_isa() >= GRAFT_ISA_AVX2; }

void graft_transpose_plain(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb) {
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < columns; j++) b[j * ldb + i] = a[i * lda + j];
    }
}

void graft_transpose(size_t rows, size_t columns, const float *a, size_t lda, float *b, size_t ldb) {
    if (graft_isa() == GRAFT_ISA_AVX512) {
        graft_transpose_avx512(rows, columns, a, lda, b, ldb);
    } else {
        graft_transpose_plain(rows, columns, a, lda, b, ldb);
    }
}

void graft_gemm_pack(const float *b, size_t ldb, int transposed, size_t k, size_t n, const float *scale,
                     float *packed) {
    if (graft_isa() == GRAFT_ISA_AVX512) {
        graft_gemm_pack_avx512(b, ldb, transposed, k, n, scale, packed);
    } else {
        graft_gemm_pack_avx2(b, ldb, transposed, k, n, scale, packed);
    }
}

void graft_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packed, float *c,
                size_t ldc, const float *bias, const float *residual, int relu, int stream) {
    if (graft_isa() == GRAFT_ISA_AVX512) {
        graft_gemm_avx512(m, n, k, a, lda, packed, c, ldc, bias, residual, relu, stream);
    } else {
        graft_gemm_avx2(m, n, k, a, lda, packed, c, ldc, bias, residual, relu, stream);
    }
}

void graft_gemm_tn(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                   size_t ldc, int accumulate) {
    if (graft_isa() == GRAFT_ISA_AVX512) {
        graft_gemm_tn_avx512(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    } else {
        graft_gemm_tn_avx2(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }
}
