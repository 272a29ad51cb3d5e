#include "graft_cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"baseline", "avx2", "avx512"};

int graft_isa_supported(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma")) return GRAFT_ISA_BASELINE;
    if (__builtin_cpu_supports("avx512f")) return GRAFT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return GRAFT_ISA_AVX2;
#endif
    return GRAFT_ISA_BASELINE;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int chosen;

static void choose(void) {
    chosen = graft_isa_supported();
    const char *asked = getenv("GRAFT_ISA");
    for (int isa = GRAFT_ISA_BASELINE; asked && isa < chosen; isa++) {
        if (strcmp(asked, names[isa]) == 0) chosen = isa;
    }
}

int graft_isa(void) {
    pthread_once(&once, choose);
    return chosen;
}

const char *graft_isa_name(int isa) {
    return isa >= GRAFT_ISA_BASELINE && isa <= GRAFT_ISA_AVX512 ? names[isa] : "unknown";
}
