#include "graft_optimizer.h"
#include "graft_cpu.h"

#include <math.h>

// Compiled for AVX-512, AVX2 and the x86-64 baseline, picked by graft_isa():
// Adam's and RMSprop's square roots and divisions keep the pass from memory speed unless it
// runs as wide as the CPU allows (bench/HISTORY.md has the measurement).
#define BODY static inline __attribute__((always_inline))

BODY void graft_adam_update_body(size_t count, float *restrict w, const float *restrict g, float *restrict m,
                                 float *restrict v, float keep1, float keep2, float alpha, float epsilon) {
    for (size_t i = 0; i < count; i++) {
        float mi = m[i] + (g[i] - m[i]) * keep1;
        float vi = v[i] + (g[i] * g[i] - v[i]) * keep2;
        m[i] = mi;
        v[i] = vi;
        w[i] -= (mi * alpha) / (sqrtf(vi) + epsilon);
    }
}
GRAFT_ISA_DISPATCH(graft_adam_update,
                   (size_t count, float *restrict w, const float *restrict g, float *restrict m,
                    float *restrict v, float keep1, float keep2, float alpha, float epsilon),
                   (count, w, g, m, v, keep1, keep2, alpha, epsilon))

BODY void graft_rmsprop_update_body(size_t count, float *restrict w, const float *restrict g, float *restrict v,
                                    float *restrict a, float *restrict m, float rho, float keep, float momentum,
                                    float lr, float epsilon) {
    for (size_t i = 0; i < count; i++) {
        float vi = rho * v[i] + keep * (g[i] * g[i]);
        v[i] = vi;
        float denominator;
        if (a) {
            float ai = rho * a[i] + keep * g[i];
            a[i] = ai;
            denominator = vi - ai * ai + epsilon;
        } else {
            denominator = vi + epsilon;
        }
        float increment = (lr * g[i]) / sqrtf(denominator);
        if (m) {
            m[i] = momentum * m[i] + increment;
            w[i] -= m[i];
        } else {
            w[i] -= increment;
        }
    }
}
GRAFT_ISA_DISPATCH(graft_rmsprop_update,
                   (size_t count, float *restrict w, const float *restrict g, float *restrict v,
                    float *restrict a, float *restrict m, float rho, float keep, float momentum, float lr,
                    float epsilon),
                   (count, w, g, v, a, m, rho, keep, momentum, lr, epsilon))
