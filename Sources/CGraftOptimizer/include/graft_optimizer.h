// The optimizers' elementwise updates, vectorized for the CPU at hand.

#ifndef GRAFT_OPTIMIZER_H
#define GRAFT_OPTIMIZER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Keras's Adam step on `count` weights, in Keras's order of operations:
///   m += (g − m)·keep1;  v += (g² − v)·keep2;  w −= (m·alpha)/(sqrt(v) + epsilon).
/// Every operation is rounded to float32 on its own (no fused multiply-add),
/// so the result is the same on every CPU and at every vector width.
void graft_adam_update(size_t count, float *w, const float *g, float *m, float *v, float keep1, float keep2,
                       float alpha, float epsilon);

/// Keras's RMSprop step on `count` weights, in Keras's order of operations:
///   v = rho·v + keep·g²;  (centered: a = rho·a + keep·g;  d = v − a² + epsilon, else d = v + epsilon)
///   increment = (lr·g)/sqrt(d);  momentum > 0: m = momentum·m + increment, w −= m;  else w −= increment.
/// `a` is NULL unless centered, `m` NULL unless momentum > 0. Rounded as
/// graft_adam_update is.
void graft_rmsprop_update(size_t count, float *w, const float *g, float *v, float *a, float *m, float rho,
                          float keep, float momentum, float lr, float epsilon);

#ifdef __cplusplus
}
#endif

#endif
