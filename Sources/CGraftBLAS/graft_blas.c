#include "graft_blas.h"
#include "graft_cpu.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* cblas_sgemm's enums, as cblas.h defines them. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*core_name_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn sgemm;
static set_threads_fn set_threads;
static core_name_fn core_name;
static char failure[512];

/* Whether the OS saves the registers (XCR0) that `mask` names. */
static int os_saves(unsigned mask) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & mask) == mask;
}

static const char *cpu_widest_core(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return NULL;
    const int avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!avx || !os_saves(0x6)) return NULL; /* no AVX, or YMM state not saved */
    unsigned b7 = 0, c7 = 0, d7 = 0, a7 = 0;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return "Sandybridge";
    const int avx2 = (b7 >> 5) & 1;
    /* AVX512F, DQ, BW, VL: what OpenBLAS's SkylakeX kernels use. */
    const int avx512 = (b7 >> 16 & 1) && (b7 >> 17 & 1) && (b7 >> 30 & 1) && (b7 >> 31 & 1);
    if (avx512 && os_saves(0xe6)) {
        unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
        const int bf16 = a7 >= 1 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71) && (a71 >> 5 & 1);
        return bf16 ? "Cooperlake" : "SkylakeX";
    }
    if (avx2 && fma) return "Haswell";
    return "Sandybridge";
}

const char *graft_blas_widest_core(void) {
    /* A path narrower than the CPU's, forced by GRAFT_ISA, takes OpenBLAS's
     * kernels for that path too: the whole process runs as on such a CPU. */
    const int isa = graft_isa();
    if (isa < graft_isa_supported()) return isa == GRAFT_ISA_AVX2 ? "Haswell" : "Prescott";
    return cpu_widest_core();
}

static void load(void) {
    /* The user's choice wins; else the CPU's widest, set only while
     * OpenBLAS initialises (it reads the variable when it is loaded). */
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : graft_blas_widest_core();
    if (core) setenv("OPENBLAS_CORETYPE", core, 0);
    void *library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
    if (core) unsetenv("OPENBLAS_CORETYPE");
    if (!library) {
        snprintf(failure, sizeof failure, "OpenBLAS could not be loaded (%s): install it (Debian: libopenblas0)",
                 dlerror());
        return;
    }
    sgemm = (sgemm_fn)dlsym(library, "cblas_sgemm");
    set_threads = (set_threads_fn)dlsym(library, "openblas_set_num_threads");
    core_name = (core_name_fn)dlsym(library, "openblas_get_corename");
    if (!sgemm || !set_threads) {
        snprintf(failure, sizeof failure, "the loaded libopenblas lacks cblas_sgemm or openblas_set_num_threads");
        sgemm = NULL;
    }
}

const char *graft_blas_load(void) {
    pthread_once(&once, load);
    return sgemm ? NULL : failure;
}

void graft_blas_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    sgemm(ROW_MAJOR, transpose_a ? TRANS : NO_TRANS, transpose_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
          beta, c, ldc);
}

void graft_blas_set_num_threads(int threads) { set_threads(threads); }

const char *graft_blas_core_name(void) {
    if (graft_blas_load() || !core_name) return NULL;
    return core_name();
}
