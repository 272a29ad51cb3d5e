/* The instruction set Graft's own kernels run on: one choice per process.
 *
 * Each kernel with a vector path (the GEMM, the Aᵀ·B kernel-gradient
 * product, the transposes, Winograd's transforms, the elementwise passes,
 * the optimizers' updates, the augmentation sampler) has an AVX-512 one, an
 * AVX2+FMA one and a baseline (x86-64) one, and takes the one named here.
 * OpenBLAS's core follows the same choice (see graft_blas.h). */
#ifndef GRAFT_CPU_H
#define GRAFT_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel paths, narrowest first. */
enum { GRAFT_ISA_BASELINE = 0, GRAFT_ISA_AVX2 = 1, GRAFT_ISA_AVX512 = 2 };

/* The widest path this CPU (and its OS) runs: AVX-512 needs AVX512F and
 * FMA, AVX2 needs AVX2 and FMA. */
int graft_isa_supported(void);

/* The path the kernels take, decided once, when first asked: the widest the
 * CPU runs, or a narrower one named by GRAFT_ISA in the environment
 * ("avx2" or "baseline"; "avx512" asks for the widest, a value not known is
 * ignored), for tests and benchmarks. Thread-safe. */
int graft_isa(void);

/* "avx512", "avx2" or "baseline": the name GRAFT_ISA takes. */
const char *graft_isa_name(int isa);

/* Defines the void function `name` (parameters `params`, passed on as
 * `args`) to run the always-inline `name##_body` compiled three times, for
 * AVX-512, AVX2+FMA and the baseline, and picked by graft_isa(): the
 * compiler vectorises each copy as wide as its target allows. */
#if defined(__x86_64__)
#define GRAFT_ISA_DISPATCH(name, params, args)                                  \
    __attribute__((target("avx512f"))) static void name##_avx512 params { name##_body args; } \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; }  \
    static void name##_baseline params { name##_body args; }                  \
    void name params {                                                        \
        switch (graft_isa()) {                                                \
        case GRAFT_ISA_AVX512: name##_avx512 args; break;                     \
        case GRAFT_ISA_AVX2: name##_avx2 args; break;                         \
        default: name##_baseline args; break;                                 \
        }                                                                     \
    }
#else
#define GRAFT_ISA_DISPATCH(name, params, args) \
    void name params { name##_body args; }
#endif

#ifdef __cplusplus
}
#endif

#endif
